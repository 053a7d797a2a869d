"""The one interface every log-drop protocol implements (ftp, ftps, sftp, local).

The sensor and the ingestion asset only ever see this interface, so a machine switching from FTP
to SFTP is a configuration change. Paths are POSIX paths relative to the drop's root folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from shutter_assets.lib.log_names import UnsafePathError, check_drop_path

ARCHIVE_DIR = "archive"


class DropError(RuntimeError):
    """A log-drop operation failed; the message names the server, the file and what to check."""


@dataclass(frozen=True)
class DropSettings:
    protocol: str = "local"  # ftp | ftps | sftp | local
    host: str = ""
    port: int = 0  # 0 = the protocol's default port
    user: str = ""
    password: str = ""
    remote_dir: str = "var/drop"
    known_hosts: str = ""  # empty = ~/.ssh/known_hosts
    insecure_accept_any_host_key: bool = False
    timeout_s: float = 30.0
    tls_ca_file: str = ""  # ftps: PEM file of the CA/certificate to trust; empty = system store


@dataclass(frozen=True, order=True)
class RemoteFile:
    """One file seen in the drop. ``mtime`` is timezone-aware UTC; ``path`` is relative."""

    path: str
    size: int
    mtime: datetime


class LogDrop(Protocol):
    def list_files(self) -> list[RemoteFile]:
        """Every regular file in the root and in its first-level sub-folders (one per machine),
        except the archive folder and hidden (dot) names; sorted by path."""
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
