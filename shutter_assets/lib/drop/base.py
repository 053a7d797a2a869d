"""The one interface every log-drop protocol implements (ftp, ftps, sftp, local).

The sensor and the ingestion asset only ever see this interface, so a machine switching from FTP
to SFTP is a configuration change. Paths are POSIX paths relative to the drop's root folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from shutter_assets.lib.log_names import UnsafePathError, check_drop_path, path_problem, readable
from shutter_assets.lib.settings import FromEnv, setting

ARCHIVE_DIR = "archive"


class DropError(RuntimeError):
    """A log-drop operation failed; the message names the server, the file and what to check."""


@dataclass(frozen=True)
class DropSettings(FromEnv):
    """Where the machines upload their log files: ``FTP_*`` and ``SFTP_*`` (DESIGN.md section 3)."""

    protocol: str = setting("FTP_PROTOCOL", "local")  # ftp | ftps | sftp | local
    host: str = setting("FTP_HOST", "")
    port: int = setting("FTP_PORT", 0)  # 0 = the protocol's default port
    user: str = setting("FTP_USER", "")
    password: str = setting("FTP_PASSWORD", "", secret=True)
    remote_dir: str = setting("FTP_REMOTE_DIR", "var/drop")
    known_hosts: str = setting("SFTP_KNOWN_HOSTS", "")  # empty = ~/.ssh/known_hosts
    insecure_accept_any_host_key: bool = setting("SFTP_INSECURE_ACCEPT_ANY_HOST_KEY", False)
    timeout_s: float = 30.0
    # ftps: PEM file of the CA/certificate to trust; empty = system store
    tls_ca_file: str = setting("FTP_TLS_CA_FILE", "")


@dataclass(frozen=True, order=True)
class RemoteFile:
    """One file seen in the drop. ``mtime`` is timezone-aware UTC; ``path`` is relative."""

    path: str
    size: int
    mtime: datetime


@dataclass(frozen=True, order=True)
class SkippedName:
    """A name in the drop that is not a usable drop path (``log_names``), left out of a listing
    so that the rest of the drop flows. ``path`` is printable (``log_names.readable``: a byte
    that is not UTF-8 shows as ``\\xNN``); ``reason`` says what is wrong with it."""

    path: str
    reason: str


class Listing(list[RemoteFile]):
    """The files of a drop, sorted by path, and ``skipped``: the names it could not offer.

    A list, so that every caller of ``list_files()`` keeps working; ``skipped`` is what the sensor
    logs on each tick and the ingestion reports (issue "Field-proof ingestion", item 6).
    """

    def __init__(self, files: Iterable[RemoteFile] = (), skipped: Iterable[SkippedName] = ()):
        super().__init__(sorted(files))
        self.skipped: tuple[SkippedName, ...] = tuple(sorted(set(skipped)))


def describe_skipped(skipped: Sequence[SkippedName], limit: int = 20) -> str:
    """One log line naming the skipped names (the first ``limit``) and what to do about them."""
    shown = "; ".join(f"{s.path!r} ({s.reason})" for s in skipped[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return (
        f"{len(skipped)} name(s) in the log drop cannot be used and are skipped, the other files "
        f"are listed: {shown}{more}. Rename or remove them on the server (log file names are "
        "ASCII, DESIGN.md section 4)"
    )


def unusable(path: str) -> SkippedName | None:
    """The SkippedName for a listed ``path`` that is not a drop path, or None if it is one."""
    problem = path_problem(path)
    return None if problem is None else SkippedName(readable(path), problem)


class LogDrop(Protocol):
    def list_files(self) -> Listing:
        """Every regular file in the root and in its first-level sub-folders (one per machine),
        except the archive folder and hidden (dot) names; sorted by path. A name that is not a
        usable drop path (not UTF-8, a control character...) is left out and reported in the
        listing's ``skipped``, never an error that would hide the other files."""
        ...

    def open_read(self, path: str) -> BinaryIO:
        """A binary stream of the file's bytes, read incrementally (never the whole file in
        memory); use as a context manager. Raises DropError on a protocol failure mid-stream."""
        ...

    def archive(self, path: str) -> str:
        """Move the file under ``archive/`` keeping its relative path; returns the new path."""
        ...

    def close(self) -> None: ...


def drop_path(path: str) -> str:
    """``path`` unchanged when ``log_names`` accepts it as a drop path, else DropError.

    The platform only ever names files that the listing returned; anything absolute, climbing out
    with ``..`` or spelled two ways is refused so that a bad name can never read or move files
    elsewhere.
    """
    try:
        return check_drop_path(path)
    except UnsafePathError as exc:
        raise DropError(str(exc)) from exc


def archive_path(path: str) -> str:
    """Where ``archive()`` moves a file: ``archive/<same relative path>``."""
    return f"{ARCHIVE_DIR}/{drop_path(path)}"
