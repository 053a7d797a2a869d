"""API keys: the environment holds only their SHA-256 digests, never the keys themselves.

``API_KEYS`` and ``API_REVOKED_KEYS`` are comma-separated ``<name>:<sha256 hex>`` entries (the
name says whose key it is: ``erp``, ``shopfloor``...). Keys are 32 random bytes
(``python -m shutter_api.keys <name>`` makes one), so a plain SHA-256 is enough: there is no
dictionary to attack, unlike a password, and checking one costs microseconds per request.
A presented key whose digest is in ``API_REVOKED_KEYS`` is refused with 403 (it was valid once);
an unknown one with 401.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
from dataclasses import dataclass, field
from enum import Enum

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def digest(key: str) -> str:
    """SHA-256 hex digest of an API key, as ``API_KEYS`` stores it."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key: 32 random bytes, URL-safe base64 with a recognisable prefix."""
    return "shk_" + secrets.token_urlsafe(32)


class KeyStatus(Enum):
    VALID = "valid"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ApiKeys:
    """Digest -> client name, for the active and the revoked keys."""

    active: dict[str, str] = field(default_factory=dict)
    revoked: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, active: str, revoked: str = "") -> ApiKeys:
        """Parse the two variables; raise ValueError naming the variable and the bad entry."""
        return cls(_parse("API_KEYS", active), _parse("API_REVOKED_KEYS", revoked))

    def check(self, key: str) -> tuple[KeyStatus, str | None]:
        """Status of a presented key and its client name. Revocation wins over activity."""
        d = digest(key)
        if d in self.revoked:
            return KeyStatus.REVOKED, self.revoked[d]
        if d in self.active:
            return KeyStatus.VALID, self.active[d]
        return KeyStatus.UNKNOWN, None


def _parse(variable: str, raw: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        name, sep, hexdigest = entry.rpartition(":")
        hexdigest = hexdigest.strip().lower()
        if not sep or not name.strip() or not _DIGEST.match(hexdigest):
            raise ValueError(
                f"{variable}: entry {entry[:20]!r}... is not '<name>:<sha256 hex of the key>' "
                "(make one with: python -m shutter_api.keys <name>)"
            )
        entries[hexdigest] = name.strip()
    return entries


def main(argv: list[str] | None = None) -> int:
    """Print a new key (give it to the client) and its ``API_KEYS`` entry (put it in .env)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not re.match(r"^[A-Za-z0-9_.-]+$", args[0]):
        print("usage: python -m shutter_api.keys <client-name>", file=sys.stderr)
        return 2
    key = new_key()
    print(f"key (give it to {args[0]}, shown once): {key}")
    print(f"API_KEYS entry (append to .env, comma-separated): {args[0]}:{digest(key)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
