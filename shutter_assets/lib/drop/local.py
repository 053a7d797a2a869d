"""A log drop that is a plain directory: for development, tests and drops mounted on the host.

``remote_dir`` is a filesystem directory (relative to the working directory or absolute).
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from shutter_assets.lib.drop.base import (
    ARCHIVE_DIR,
    DropError,
    DropSettings,
    Listing,
    RemoteFile,
    SkippedName,
    archive_path,
    drop_path,
    unusable,
)
from shutter_assets.lib.log_names import is_hidden


class LocalDrop:
    def __init__(self, settings: DropSettings) -> None:
        self.root = Path(settings.remote_dir or ".").expanduser()
        if not self.root.is_dir():
            raise DropError(
                f"local log drop {str(self.root.resolve())!r} is not a directory: create it or "
                "set FTP_REMOTE_DIR to the folder the machines upload to"
            )

    def list_files(self) -> Listing:
        found: list[RemoteFile] = []
        skipped: list[SkippedName] = []
        try:
            for entry, path in self._usable(self.root, "", skipped, folders=True):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ARCHIVE_DIR:
                        subs = self._usable(Path(entry.path), f"{path}/", skipped, folders=False)
                        found.extend(_remote_file(sub, sub_path) for sub, sub_path in subs)
                elif entry.is_file(follow_symlinks=False):
                    found.append(_remote_file(entry, path))
        except OSError as exc:
            raise DropError(f"cannot list local log drop {str(self.root)!r}: {exc}") from exc
        return Listing(found, skipped)

    @staticmethod
    def _usable(folder: Path, prefix: str, skipped: list[SkippedName], *, folders: bool):
        """(entry, drop path) of each regular file (and sub-folder if ``folders``) in ``folder``
        whose name is usable; the unusable ones go to ``skipped``.

        Names come from ``os.scandir`` on a ``str`` path, so bytes that are not UTF-8 arrive as
        surrogate escapes, which ``log_names`` refuses.
        """
        with os.scandir(folder) as entries:
            for entry in entries:
                wanted = entry.is_file(follow_symlinks=False) or (
                    folders and entry.is_dir(follow_symlinks=False)
                )
                if not wanted or is_hidden(entry.name):
                    continue
                path = prefix + entry.name
                if skip := unusable(path):
                    skipped.append(skip)
                else:
                    yield entry, path

    def open_read(self, path: str) -> BinaryIO:
        target = self.root / drop_path(path)
        try:
            if not stat.S_ISREG(target.stat().st_mode):
                raise DropError(f"{str(target)!r} in the local log drop is not a regular file")
            return open(target, "rb")  # the caller closes it (context manager)
        except OSError as exc:
            raise DropError(f"cannot read {str(target)!r} from the local log drop: {exc}") from exc

    def archive(self, path: str) -> str:
        source = self.root / drop_path(path)
        new_path = archive_path(path)
        target = self.root / new_path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except OSError as exc:
            raise DropError(
                f"cannot move {str(source)!r} to {str(target)!r} in the local log drop: {exc}; "
                "check that the platform may write to the drop folder"
            ) from exc
        return new_path

    def close(self) -> None:
        """Nothing to release: every call opens and closes what it uses."""


def _remote_file(entry: os.DirEntry, path: str) -> RemoteFile:
    st = entry.stat(follow_symlinks=False)
    return RemoteFile(path, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
