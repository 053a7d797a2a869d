"""FTP and explicit-TLS FTPS log drop (``ftplib``), for vsftpd and for the servers of PLCs and
Windows (IIS) alike.

Listing (dialects are read in ``ftp_listing``): when the server's ``FEAT`` offers ``MLST``, one
``MLSD`` per folder gives names, types, exact sizes and second-precision UTC times. vsftpd has no
``MLSD``: there ``LIST`` (Unix or MS-DOS dialect) gives names, types and exact sizes, and ``MDTM``
the exact times, since ``LIST`` only shows minutes (only the day for files older than six months).
Asking ``MDTM`` file by file would cost one network round trip per file, 10,000 per sensor tick on
a busy drop; the commands are therefore *pipelined*: sent in batches of ``MDTM_BATCH`` on the
control connection and their replies read back in order, which costs one round trip per batch. A
server that does not implement ``MDTM`` falls back to the minute-precision ``LIST`` date.
Listings travel as bytes (``retrbinary``) and each line is decoded on its own, so a name that is
not UTF-8 is skipped and reported (``Listing.skipped``) instead of failing the whole folder.

Downloads stream from the data socket (``transfercmd('RETR ...')``); end of data only counts as
end of file once the server has confirmed the transfer (``226``) and the byte count reaches the
size announced by ``SIZE``; anything else raises ``DropError`` rather than returning a short file.
"""

from __future__ import annotations

import contextlib
import ftplib
import io
import logging
import socket
import ssl
from datetime import datetime
from typing import BinaryIO, NoReturn

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
from shutter_assets.lib.drop.ftp_listing import (
    FILE,
    OTHER,
    Entry,
    ListingError,
    ListReader,
    parse_mlsd_line,
    parse_timeval,
    server_offers_mlsd,
    split_lines,
)
from shutter_assets.lib.log_names import is_hidden

log = logging.getLogger(__name__)

DEFAULT_PORT = 21
MDTM_BATCH = 100  # small enough that pipelined commands and replies fit in socket buffers
READ_BUFFER = 256 * 1024


class FtpDrop:
    """A log drop on an FTP server; ``settings.protocol`` ``ftps`` adds explicit TLS (AUTH TLS)
    on the control connection and ``PROT P`` on every data connection."""

    def __init__(self, settings: DropSettings) -> None:
        self.settings = settings
        self.tls = settings.protocol.strip().lower() == "ftps"
        self.port = settings.port or DEFAULT_PORT
        scheme = "ftps" if self.tls else "ftp"
        self.where = f"{scheme}://{settings.user}@{settings.host}:{self.port}"
        self._ftp: ftplib.FTP | None = None
        self._base = "/"
        self._mlsd = False  # set at login from FEAT
        self._download: _FtpDownload | None = None
        self._connect()

    # ------------------------------------------------------------------ connection

    def _connect(self) -> None:
        s = self.settings
        if not s.host:
            raise DropError("FTP_HOST is empty: set it to the log drop's FTP server")
        if self.tls:
            try:
                context = ssl.create_default_context(cafile=s.tls_ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise DropError(
                    f"cannot load the TLS CA file {s.tls_ca_file!r} for {self.where}: {exc}"
                ) from exc
            ftp: ftplib.FTP = ftplib.FTP_TLS(context=context, timeout=s.timeout_s)  # noqa: S321
        else:
            # Plain FTP is what the older machines speak; ftps is the better choice where possible.
            ftp = ftplib.FTP(timeout=s.timeout_s)  # noqa: S321
        try:
            ftp.connect(s.host, self.port, timeout=s.timeout_s)
        except (OSError, EOFError, ftplib.Error) as exc:
            ftp.close()
            raise DropError(
                f"cannot connect to the log drop {self.where}: {exc!r}; check FTP_HOST and "
                "FTP_PORT, that the FTP server is running and that no firewall blocks the port"
            ) from exc
        try:
            if self.tls:
                try:
                    ftp.auth()
                except (ssl.SSLError, ssl.CertificateError) as exc:
                    raise DropError(
                        f"TLS handshake with the log drop {self.where} failed: {exc}; check that "
                        "the server offers explicit FTPS (AUTH TLS) and that its certificate is "
                        "trusted (tls_ca_file) and issued for FTP_HOST"
                    ) from exc
            try:
                ftp.login(s.user, s.password)
            except ftplib.error_perm as exc:
                raise DropError(
                    f"login to the log drop {self.where} refused ({exc}); check FTP_USER and "
                    "FTP_PASSWORD, and that this account may use FTP"
                ) from exc
            if self.tls:
                ftp.prot_p()
            ftp.voidcmd("TYPE I")
            self._mlsd = _offers_mlsd(ftp)
            if s.remote_dir.strip() not in ("", "."):
                try:
                    ftp.cwd(s.remote_dir)
                except ftplib.error_perm as exc:
                    raise DropError(
                        f"folder {s.remote_dir!r} not found on the log drop {self.where} ({exc}); "
                        "check FTP_REMOTE_DIR (relative to the FTP user's login folder)"
                    ) from exc
            self._base = ftp.pwd().rstrip("/")
        except DropError:
            ftp.close()
            raise
        except (OSError, EOFError, ftplib.Error) as exc:
            ftp.close()
            raise DropError(f"FTP session with the log drop {self.where} failed: {exc!r}") from exc
        self._ftp = ftp

    def _control(self) -> ftplib.FTP:
        """The control connection, reconnected if an earlier failure left it unusable."""
        if self._download is not None:
            raise DropError(
                f"a download from {self.where} ({self._download.path}) is still open: read it "
                "to the end or close it before the next FTP command"
            )
        if self._ftp is None:
            self._connect()
        assert self._ftp is not None
        return self._ftp

    def _broken(self) -> None:
        """Forget a control connection whose state is unknown (the next call reconnects)."""
        if self._ftp is not None:
            self._ftp.close()
            self._ftp = None

    def _abs(self, rel: str) -> str:
        return f"{self._base}/{rel}"

    def close(self) -> None:
        if self._download is not None:
            self._download.close()
        if self._ftp is not None:
            ftp, self._ftp = self._ftp, None
            try:
                ftp.quit()
            except (OSError, EOFError, ftplib.Error):
                ftp.close()

    # ------------------------------------------------------------------ listing

    def list_files(self) -> Listing:
        ftp = self._control()
        files: dict[str, Entry] = {}
        skipped: list[SkippedName] = []
        try:
            for entry in self._entries(ftp, ""):
                if is_hidden(entry.name) or entry.kind == OTHER:
                    continue
                if skip := unusable(entry.name):
                    skipped.append(skip)
                elif entry.kind == FILE:
                    files[entry.name] = entry
                elif entry.name != ARCHIVE_DIR:
                    for sub in self._entries(ftp, entry.name):
                        path = f"{entry.name}/{sub.name}"
                        if is_hidden(sub.name) or sub.kind != FILE:
                            continue
                        if skip := unusable(path):
                            skipped.append(skip)
                        else:
                            files[path] = sub
            mtimes = self._mdtm_many(ftp, [path for path, e in files.items() if not e.exact])
        except DropError:
            self._broken()
            raise
        except (OSError, EOFError, ftplib.Error) as exc:
            self._broken()
            raise DropError(f"listing the log drop {self.where} failed: {exc!r}") from exc
        found = []
        for path, entry in files.items():
            mtime = mtimes.get(path, entry.mtime)
            if mtime is not None and entry.size is not None:
                found.append(RemoteFile(path, entry.size, mtime))
        return Listing(found, skipped)

    def _entries(self, ftp: ftplib.FTP, folder: str) -> list[Entry]:
        """The entries of ``folder`` (relative; "" is the drop folder), by ``MLSD`` when the
        server offers it, else by ``LIST`` in whichever dialect it speaks."""
        where = self._abs(folder) if folder else self._base or "/"
        try:
            ftp.cwd(where)
        except ftplib.error_perm as exc:
            raise DropError(
                f"cannot open folder {where!r} on the log drop {self.where} ({exc}); check "
                "FTP_REMOTE_DIR and the folder's permissions"
            ) from exc
        chunks: list[bytes] = []
        ftp.retrbinary("MLSD" if self._mlsd else "LIST", chunks.append)
        parse = parse_mlsd_line if self._mlsd else ListReader().parse
        try:
            return [e for line in split_lines(b"".join(chunks)) if (e := parse(line)) is not None]
        except ListingError as exc:
            raise DropError(
                f"cannot read the listing of folder {where!r} on the log drop {self.where}: "
                f"{exc}. The drop is not listed rather than listed short; report the line to the "
                "platform team (a new listing dialect to support)"
            ) from exc

    def _mdtm_many(self, ftp: ftplib.FTP, paths: list[str]) -> dict[str, datetime | None]:
        """Exact mtimes by pipelined ``MDTM``; a file gone since ``LIST`` maps to None, a file
        whose time the server cannot give is left out (its ``LIST`` date is used)."""
        found: dict[str, datetime | None] = {}
        unsupported = 0
        for start in range(0, len(paths), MDTM_BATCH):
            batch = paths[start : start + MDTM_BATCH]
            payload = "".join(f"MDTM {self._abs(path)}\r\n" for path in batch)
            ftp.sock.sendall(payload.encode(ftp.encoding))
            for path in batch:
                try:
                    reply = ftp.getresp()
                except ftplib.error_perm as exc:
                    if str(exc)[:3] in ("500", "502", "504"):
                        unsupported += 1
                    else:
                        found[path] = None  # 550: renamed or removed since LIST
                    continue
                try:
                    found[path] = parse_timeval(reply.split()[1])
                except (IndexError, ValueError) as exc:
                    raise DropError(
                        f"unexpected MDTM reply {reply!r} for {path!r} from {self.where}"
                    ) from exc
        if unsupported:
            log.warning(
                "%s did not give MDTM for %d files: their times come from LIST (minute or day "
                "precision)",
                self.where,
                unsupported,
            )
        return found

    # ------------------------------------------------------------------ files

    def open_read(self, path: str) -> BinaryIO:
        rel = drop_path(path)
        ftp = self._control()
        remote = self._abs(rel)
        try:
            size = ftp.size(remote)
            conn = ftp.transfercmd(f"RETR {remote}")
        except ftplib.error_perm as exc:
            raise DropError(
                f"cannot download {rel!r} from the log drop {self.where} ({exc}); the file may "
                "have been moved or removed since it was listed"
            ) from exc
        except (OSError, EOFError, ftplib.Error) as exc:
            self._broken()
            raise DropError(
                f"cannot start downloading {rel!r} from the log drop {self.where}: {exc!r}; "
                "check that the server's passive ports are reachable"
            ) from exc
        self._download = _FtpDownload(self, ftp, conn, rel, size)
        return io.BufferedReader(self._download, buffer_size=READ_BUFFER)  # type: ignore[return-value]

    def archive(self, path: str) -> str:
        rel = drop_path(path)
        new_path = archive_path(rel)
        ftp = self._control()
        try:
            try:
                ftp.rename(self._abs(rel), self._abs(new_path))
            except ftplib.error_perm:
                self._make_folders(ftp, new_path.rsplit("/", 1)[0])
                ftp.rename(self._abs(rel), self._abs(new_path))
        except ftplib.error_perm as exc:
            raise DropError(
                f"cannot move {rel!r} to {new_path!r} on the log drop {self.where} ({exc}); check "
                "that the file still exists and that FTP_USER may write there (vsftpd "
                "write_enable=YES)"
            ) from exc
        except (OSError, EOFError, ftplib.Error) as exc:
            self._broken()
            raise DropError(f"archiving {rel!r} on {self.where} failed: {exc!r}") from exc
        return new_path

    def _make_folders(self, ftp: ftplib.FTP, folder: str) -> None:
        current = ""
        for part in folder.split("/"):
            current = f"{current}/{part}" if current else part
            with contextlib.suppress(ftplib.error_perm):  # 550: it already exists
                ftp.mkd(self._abs(current))


def _offers_mlsd(ftp: ftplib.FTP) -> bool:
    try:
        return server_offers_mlsd(ftp.sendcmd("FEAT"))
    except ftplib.error_perm:  # 500/502: a server too old for FEAT has no MLSD either
        return False


class _FtpDownload(io.RawIOBase):
    """The data connection of one ``RETR``, as a raw stream that refuses to end short."""

    def __init__(
        self, drop: FtpDrop, ftp: ftplib.FTP, conn: socket.socket, path: str, size: int | None
    ) -> None:
        super().__init__()
        self.drop, self.ftp, self.conn, self.path, self.size = drop, ftp, conn, path, size
        self.received = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.finished:
            return 0
        try:
            count = self.conn.recv_into(buffer)
        except ssl.SSLEOFError:
            count = 0  # unclean TLS close: the server's reply and the size decide below
        except (OSError, ssl.SSLError) as exc:
            self._fail(f"the data connection broke after {self.received} bytes: {exc!r}")
        if count:
            self.received += count
            return count
        self._finish()
        return 0

    def _finish(self) -> None:
        """End of data: accept it only with the server's 226 and the full size."""
        if isinstance(self.conn, ssl.SSLSocket):
            with contextlib.suppress(OSError, ValueError):
                self.conn.unwrap()
        self.conn.close()
        try:
            self.ftp.voidresp()
        except (OSError, EOFError, ftplib.Error) as exc:
            self._fail(f"the server did not confirm the transfer after {self.received} bytes "
                       f"({exc!r})")  # fmt: skip
        if self.size is not None and self.received < self.size:
            self._fail(f"only {self.received} of {self.size} bytes arrived")
        self.finished = True
        self.drop._download = None

    def _fail(self, what: str) -> NoReturn:
        self.finished = True
        self.conn.close()
        self.drop._download = None
        self.drop._broken()
        raise DropError(
            f"download of {self.path!r} from the log drop {self.drop.where} failed: {what}; the "
            "file is left in place and will be retried"
        )

    def close(self) -> None:
        if not self.closed and not self.finished:
            # Abandoned mid-file: the control connection is mid-transfer, start afresh next time.
            self.finished = True
            self.conn.close()
            self.drop._download = None
            self.drop._broken()
        super().close()
