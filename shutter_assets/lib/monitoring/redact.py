"""Keep secrets out of alerts: every text that leaves the platform goes through ``redact``.

Error messages quote connection strings, URLs and sometimes configuration values. Three rules,
applied to subjects and bodies before they are stored and again before they are sent:
the value of every environment variable whose name says it is a secret (for ``<VAR>_FILE``, the
file's content, as ``lib/settings.py`` reads it), credentials inside URLs
(``scheme://user:secret@host``), and ``password=...``-style pairs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from shutter_assets.lib.settings import SettingsError, read_variable

MASK = "***"
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|_KEY$|_HASH$|WEBHOOK_URL)", re.I)
MIN_SECRET_LEN = 4
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s]+@", re.I)
_PAIRS = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api[_-]?key)\b\s*[=:]\s*)"
    r"(?P<quote>['\"]?)(?P<value>[^\s'\";,&]+)(?P=quote)",
    re.I,
)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of the secret-named variables, longest first (so a prefix never hides the rest)."""
    env = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in env.items():
        base = name.removesuffix("_FILE")
        if not SECRET_NAME.search(base):
            continue
        if base != name:  # a Docker secret: the value is the file's content
            try:
                value = read_variable({name: value}, base, is_secret=True) or ""
            except SettingsError:
                continue
        if len(value) >= MIN_SECRET_LEN:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every known secret masked; ``secrets`` defaults to ``secret_values()``."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _PAIRS.sub(lambda m: f"{m['key']}{m['quote']}{MASK}{m['quote']}", text)
