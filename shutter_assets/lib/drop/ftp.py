"""FTP and explicit-TLS FTPS log drop (``ftplib``), written for vsftpd.

vsftpd has no ``MLSD``/``MLST``, so a listing is built from ``LIST`` (names, types and exact byte
sizes, one data transfer per folder) and ``MDTM`` (second-precision UTC modification times, since
``LIST`` only shows minutes, or only the day for files older than six months). Asking ``MDTM``
file by file would cost one network round trip per file, 10,000 per sensor tick on a busy drop; the
commands are therefore *pipelined*: sent in batches of ``MDTM_BATCH`` on the control connection
and their replies read back in order, which costs one round trip per batch. A server that does not
implement ``MDTM`` falls back to the minute-precision ``LIST`` date.

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
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, NoReturn

from shutter_assets.lib.drop.base import (
    ARCHIVE_DIR,
    DropError,
    DropSettings,
    RemoteFile,
    archive_path,
    drop_path,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 21
MDTM_BATCH = 100  # small enough that pipelined commands and replies fit in socket buffers
READ_BUFFER = 256 * 1024
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


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

    def list_files(self) -> list[RemoteFile]:
        ftp = self._control()
        try:
            files: dict[str, tuple[int, datetime]] = {}
            for name, kind, size, listed in self._list_folder(ftp, self._base or "/"):
                if kind == "-":
                    files[name] = (size, listed)
                elif kind == "d" and name != ARCHIVE_DIR:
                    for sub, sub_kind, sub_size, sub_listed in self._list_folder(
                        ftp, self._abs(name)
                    ):
                        if sub_kind == "-":
                            files[f"{name}/{sub}"] = (sub_size, sub_listed)
            mtimes = self._mdtm_many(ftp, list(files))
        except DropError:
            self._broken()
            raise
        except (OSError, EOFError, ftplib.Error) as exc:
            self._broken()
            raise DropError(f"listing the log drop {self.where} failed: {exc!r}") from exc
        return sorted(
            RemoteFile(path, size, mtimes.get(path, listed))
            for path, (size, listed) in files.items()
            if mtimes.get(path, listed) is not None
        )

    def _list_folder(self, ftp: ftplib.FTP, folder: str) -> list[tuple[str, str, int, datetime]]:
        """(name, type char, size, LIST date) of each entry of ``folder``."""
        try:
            ftp.cwd(folder)
        except ftplib.error_perm as exc:
            raise DropError(
                f"cannot open folder {folder!r} on the log drop {self.where} ({exc}); check "
                "FTP_REMOTE_DIR and the folder's permissions"
            ) from exc
        lines: list[str] = []
        try:
            ftp.retrlines("LIST", lines.append)
        except UnicodeDecodeError as exc:
            raise DropError(_not_utf8(exc, folder, self.where)) from exc
        now = datetime.now(UTC)
        return [entry for line in lines if (entry := _parse_list_line(line, now, folder))]

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
                    found[path] = _parse_mdtm(ftp.getresp(), path, self.where)
                except ftplib.error_perm as exc:
                    if str(exc)[:3] in ("500", "502", "504"):
                        unsupported += 1
                    else:
                        found[path] = None  # 550: renamed or removed since LIST
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


def _not_utf8(exc: UnicodeDecodeError, folder: str, where: str) -> str:
    raw = exc.object[max(0, exc.start - 40) : exc.end + 40]
    return (
        f"a file name in folder {folder!r} on the log drop {where} is not UTF-8 (near {raw!r}): "
        "rename or remove that file; machine log names are ASCII (DESIGN.md section 4)"
    )


def _parse_mdtm(reply: str, path: str, where: str) -> datetime:
    """``213 YYYYMMDDHHMMSS[.fff]`` (UTC, RFC 3659) as an aware datetime."""
    try:
        stamp = reply.split()[1]
        if len(stamp) < 14 or not stamp[:14].isdigit():
            raise ValueError(stamp)
        whole = datetime(
            int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]),
            int(stamp[8:10]), int(stamp[10:12]), int(stamp[12:14]), tzinfo=UTC,
        )  # fmt: skip
        fraction = float(f"0{stamp[14:]}") if len(stamp) > 15 else 0.0
    except (IndexError, ValueError) as exc:
        raise DropError(f"unexpected MDTM reply {reply!r} for {path!r} from {where}") from exc
    return whole + timedelta(seconds=fraction)


def _parse_list_line(line: str, now: datetime, folder: str):
    """One Unix-style ``LIST`` line (vsftpd, ProFTPD, Pure-FTPd) as (name, type, size, date).

    Returns None for lines that name no file or folder (``total``, links, devices). The date is
    UTC (vsftpd's default ``use_localtime=NO``) at minute or day precision: a fallback only.
    """
    fields = line.split(None, 8)
    if len(fields) < 9 or fields[0][:1] not in ("-", "d"):
        return None
    kind, size_text, month, day, clock, name = fields[0][0], fields[4], *fields[5:9]
    if name.startswith("."):
        return None  # ".", ".." and hidden upload temporaries (vsftpd hides them by default)
    try:
        size = int(size_text)
        month_no = _MONTHS[month[:3].lower()]
        if ":" in clock:
            hour, minute = (int(x) for x in clock.split(":"))
            listed = datetime(now.year, month_no, int(day), hour, minute, tzinfo=UTC)
            if listed > now + timedelta(days=1):
                listed = listed.replace(year=now.year - 1)
        else:
            listed = datetime(int(clock), month_no, int(day), tzinfo=UTC)
    except (KeyError, ValueError) as exc:
        raise DropError(
            f"cannot read the FTP listing of {folder!r}: unexpected line {line!r}; the server "
            "must give Unix-style LIST output (as vsftpd does)"
        ) from exc
    return name, kind, size, listed
