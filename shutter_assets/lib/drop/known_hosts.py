"""Reading an OpenSSH ``known_hosts`` file as OpenSSH does: one unusable line never hides the rest.

paramiko's own reader (``HostKeys.load``) stops with a raw ``InvalidHostKey`` traceback on the
first ``@cert-authority`` line, and a malformed hashed name (``|1|...``) only fails later, inside
``connect``. This reader goes line by line:

* a plain or hashed ``hosts keytype base64`` line paramiko can use is a known key; host
  patterns with wildcards (``*.plant.local``), which paramiko ignores, are matched here;
* ``@revoked hosts keytype base64`` is honoured: that key is refused even where another line
  lists it (as OpenSSH does);
* ``@cert-authority patterns keytype base64`` is kept aside: paramiko cannot check host
  certificates, so such a line verifies nothing; a server that only it could verify gets an error
  saying which host-key line to add instead;
* every other line (garbage, an unknown key type, bad base64, a bad hashed name, an unknown
  ``@marker``) is skipped with a warning naming its line number, as OpenSSH does.

No Dagster; paramiko only for its key classes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import paramiko
from paramiko.hostkeys import HostKeyEntry

log = logging.getLogger(__name__)

CERT_AUTHORITY = "@cert-authority"
REVOKED = "@revoked"


@dataclass
class KnownHosts:
    """The usable content of one known_hosts file; line numbers count from 1."""

    path: str
    entries: list[HostKeyEntry] = field(default_factory=list)
    revoked: list[tuple[int, paramiko.PKey]] = field(default_factory=list)
    authorities: list[tuple[int, list[str]]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def install(self, client: paramiko.SSHClient, hostname: str) -> None:
        """Give ``client`` every known key for ``hostname`` (``host``, or ``[host]:port`` off port
        22, as paramiko looks it up), except revoked ones, so that a revoked key reaches the
        missing-key policy before any password is sent. Wildcard patterns (``*.plant.local``,
        ``[10.0.0.*]:2222``, with ``!`` exclusions), which paramiko does not match, are matched
        here as OpenSSH does. Nothing is ever written back to the file."""
        keys = client.get_host_keys()
        for entry in self.entries:
            if self.revoked_line(entry.key) is not None:
                continue
            key_type = entry.key.get_name()
            for name in entry.hostnames:
                if not _is_pattern(name):
                    keys.add(name, key_type, entry.key)
            patterns = [n for n in entry.hostnames if not n.startswith("|1|")]
            if any(_is_pattern(n) for n in patterns) and _matches(patterns, hostname):
                keys.add(hostname, key_type, entry.key)

    def revoked_line(self, key: paramiko.PKey) -> int | None:
        """The line that marks ``key`` ``@revoked``, if any."""
        blob = key.asbytes()
        return next((n for n, revoked in self.revoked if revoked.asbytes() == blob), None)

    def authority_lines(self, hostname: str) -> list[int]:
        """``@cert-authority`` lines whose host patterns match ``hostname`` (``host`` or
        ``[host]:port``, as paramiko names a server on another port than 22)."""
        bare = hostname[1:].split("]:", 1)[0] if hostname.startswith("[") else hostname
        return [
            line
            for line, patterns in self.authorities
            if _matches(patterns, hostname) or _matches(patterns, bare)
        ]


def read_known_hosts(path: str) -> KnownHosts:
    """Read ``path`` (raises OSError if it cannot be opened); warns once per skipped line."""
    known = KnownHosts(path)
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, 1):
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith("#"):
                continue
            problem = _read_line(known, number, line)
            if problem is not None:
                known.skipped.append((number, problem))
                log.warning("known_hosts %s line %d skipped: %s", path, number, problem)
    return known


def _read_line(known: KnownHosts, number: int, line: str) -> str | None:
    """Add what ``line`` says to ``known``; return why it cannot be used, or None."""
    marker = ""
    if line.startswith("@"):
        marker, _, line = line.partition(" ")
        line = line.strip()
        if marker == CERT_AUTHORITY:
            known.authorities.append((number, line.split()[0].split(",") if line else []))
            return (
                "@cert-authority lines are not supported (this client cannot check host "
                "certificates); list the server's own host key instead"
            )
        if marker != REVOKED:
            return f"unknown marker {marker!r}"
    entry, problem = _entry(line)
    if entry is None:
        return problem
    if marker == REVOKED:
        known.revoked.append((number, entry.key))
    else:
        known.entries.append(entry)
    return None


def _entry(line: str) -> tuple[HostKeyEntry | None, str]:
    try:
        entry = HostKeyEntry.from_line(line)
    except Exception as exc:  # paramiko's key classes raise many kinds of error on bad data
        return None, f"not a known_hosts line ({type(exc).__name__}: {str(exc)[:80]})"
    if entry is None:
        return None, "too few fields or a key type this client does not know"
    for name in entry.hostnames:
        if name.startswith("|1|"):
            try:
                paramiko.HostKeys.hash_host("probe", name)
            except Exception as exc:  # the salt is base64 from the file, maybe broken
                return None, f"malformed hashed host name ({type(exc).__name__})"
    return entry, ""


def _wildcard(pattern: str) -> re.Pattern:
    """OpenSSH's ``*`` and ``?`` only (``[`` is literal: ``[host]:port``, unlike fnmatch)."""
    return re.compile(re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", "."))


def _is_pattern(name: str) -> bool:
    return name.startswith("!") or "*" in name or "?" in name


def _matches(patterns: list[str], name: str) -> bool:
    """OpenSSH host patterns: ``*`` and ``?`` wildcards; a matching ``!pattern`` excludes."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _wildcard(pattern.lstrip("!")).fullmatch(name.lower()):
            if negated:
                return False
            matched = True
    return matched
