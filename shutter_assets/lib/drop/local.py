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
    RemoteFile,
    archive_path,
    drop_path,
)


class LocalDrop:
    def __init__(self, settings: DropSettings) -> None:
        self.root = Path(settings.remote_dir or ".").expanduser()
        if not self.root.is_dir():
            raise DropError(
                f"local log drop {str(self.root.resolve())!r} is not a directory: create it or "
                "set FTP_REMOTE_DIR to the folder the machines upload to"
            )

    def list_files(self) -> list[RemoteFile]:
        found: list[RemoteFile] = []
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != ARCHIVE_DIR:
                            found.extend(self._files_in(Path(entry.path), f"{entry.name}/"))
                    elif entry.is_file(follow_symlinks=False):
                        found.append(self._remote_file(entry, entry.name))
        except OSError as exc:
            raise DropError(f"cannot list local log drop {str(self.root)!r}: {exc}") from exc
        return sorted(found)

    def _files_in(self, folder: Path, prefix: str) -> list[RemoteFile]:
        found = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                    found.append(self._remote_file(entry, prefix + entry.name))
        return found

    def _remote_file(self, entry: os.DirEntry, path: str) -> RemoteFile:
        try:
            path.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DropError(
                f"a file name in the local log drop {str(self.root)!r} is not UTF-8 "
                f"({os.fsencode(path)!r}): rename or remove that file; machine log names are ASCII"
            ) from exc
        st = entry.stat(follow_symlinks=False)
        return RemoteFile(path, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

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
