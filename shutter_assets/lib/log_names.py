"""The rules for names in the log drop: which paths the platform may read, wait for or skip.

One module owns them (issue "Code shape", item 2) so that every drop client, the sensor and the
ingestion asset agree on what a name means. No Dagster, no I/O.

* A **drop path** is a relative POSIX path of one or more non-empty components, none of them
  ``.`` or ``..``; no backslash, no character below U+0020 (tab, newline, NUL...), no DEL or C1
  control, no byte that is not UTF-8 (held as a surrogate escape, see ``readable``). A path
  has one spelling: ``a/./b``, ``a//b`` or ``a/b/`` are refused, never normalised, so a name
  seen in a listing, in a run's config and in ``raw.ingested_files`` is always the same text.
* A **hidden** name (leading dot: ``.``, ``..``, rsync/lftp upload temporaries) is not listed.
* A **temporary** name (``.part``, ``.tmp``, any case) is an upload in progress: listed, but
  not loaded until it is renamed (DESIGN.md section 4).
* A log file is named ``{machine_id}_{YYYYMMDD}_{HHMMSS}.log``; ``machine_from_path`` reads its
  machine (a re-upload ``CU-01_20261120_060000 (1).log`` keeps it).
"""

from __future__ import annotations

import re

TEMP_SUFFIXES = (".part", ".tmp")
_FILE_MACHINE_RE = re.compile(r"([A-Z]{2}-[0-9]{2})_")
# Below U+0020, DEL, the C1 block and lone surrogates (``surrogateescape`` decoding turns each byte
# that is not UTF-8 into one of U+DC80..U+DCFF).
_UNUSABLE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class UnsafePathError(ValueError):
    """A drop path breaks the rules above; the message names it and says what to do."""


def readable(name: str) -> str:
    """``name`` as printable text: bytes that are not UTF-8 as ``\\xNN``, controls escaped.

    Names are read with ``surrogateescape`` so that one stray byte never hides the rest of a
    folder; this is how such a name is shown in logs and metadata (``Relev\\xe9 production.txt``).
    """
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte decoding produced
        raw = name.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return _UNUSABLE_CHAR.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a usable drop path, or None when it is one."""
    if not path:
        return "the name is empty"
    if bad := _UNUSABLE_CHAR.search(path):
        char = bad.group()
        if "\ud800" <= char <= "\udfff":
            return "the name is not UTF-8"
        return f"the name holds the control character {readable(char)}"
    if path.startswith("/") or (len(path) > 1 and path[0].isalpha() and path[1] == ":"):
        return "it is absolute; drop paths are relative to the drop folder"
    if "\\" in path:
        return "it holds a backslash (a Windows path); drop paths use '/'"
    parts = path.split("/")
    if ".." in parts:
        return "'..' would leave the drop folder"
    if "" in parts or "." in parts:
        return "it has an empty or '.' component; a drop path has one spelling"
    return None


def is_safe_path(path: str) -> bool:
    """True for a drop path the platform may read, move and record (see the module's rules)."""
    return path_problem(path) is None


def check_drop_path(path: str) -> str:
    """``path`` unchanged when it is a drop path, else UnsafePathError saying why."""
    problem = path_problem(path)
    if problem is not None:
        raise UnsafePathError(
            f"refused remote name {readable(path)!r}: {problem}. A log file is a plain name in the "
            "drop folder or in one machine sub-folder; rename it on the server"
        )
    return path


def is_hidden(name: str) -> bool:
    """A listed name (one component) the drop never offers: ``.``, ``..`` and dot-files."""
    return name.startswith(".")


def is_temporary(path: str) -> bool:
    """An upload still in progress under its temporary name: not loaded until renamed."""
    return path.lower().endswith(TEMP_SUFFIXES)


def machine_from_path(path: str) -> str | None:
    """The machine id a file name starts with (``CU-01_20261120_060000.log`` -> ``CU-01``)."""
    m = _FILE_MACHINE_RE.match(path.rsplit("/", 1)[-1])
    return m.group(1) if m else None
