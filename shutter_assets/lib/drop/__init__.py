"""Log-drop clients: one interface (``LogDrop``) over ftp, ftps, sftp and a local directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shutter_assets.lib.drop.base import (
    ARCHIVE_DIR,
    DropError,
    DropSettings,
    Listing,
    LogDrop,
    RemoteFile,
    SkippedName,
)

__all__ = [
    "ARCHIVE_DIR",
    "DropError",
    "DropSettings",
    "Listing",
    "LogDrop",
    "RemoteFile",
    "SkippedName",
    "open_drop",
]


@contextmanager
def open_drop(settings: DropSettings) -> Iterator[LogDrop]:
    """Connect to the drop named by ``settings.protocol`` and close it afterwards."""
    protocol = settings.protocol.strip().lower()
    if protocol == "local":
        from shutter_assets.lib.drop.local import LocalDrop as cls
    elif protocol in ("ftp", "ftps"):
        from shutter_assets.lib.drop.ftp import FtpDrop as cls
    elif protocol == "sftp":
        from shutter_assets.lib.drop.sftp import SftpDrop as cls
    else:
        raise DropError(
            f"FTP_PROTOCOL={settings.protocol!r} is not supported: use ftp, ftps, sftp or local"
        )
    drop = cls(settings)
    try:
        yield drop
    finally:
        drop.close()
