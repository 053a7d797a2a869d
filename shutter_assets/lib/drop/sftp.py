"""SFTP log drop (paramiko), with host keys checked against a known_hosts file.

Host-key policy (DESIGN.md section 3): the server's key must be in ``settings.known_hosts``
(``SFTP_KNOWN_HOSTS``; empty = ``~/.ssh/known_hosts``). An unknown key is refused, unless
``known_hosts`` is empty *and* ``insecure_accept_any_host_key`` is set, in which case it is accepted
with a warning naming its fingerprint. A key that differs from the one on file, or that the file
marks ``@revoked``, is always refused. The file is read by ``known_hosts`` (lines paramiko cannot
use are skipped with a warning naming their number; ``@cert-authority`` lines verify nothing).

``SFTPAttributes`` give sizes and whole-second UTC mtimes in the directory listing itself, so a
listing costs one round trip per folder. Downloads are pipelined a window at a time (paramiko's
``readv``: 64 reads of 32 KiB in flight, the next window once this one is read), so memory stays
about 2 MiB whatever the file size and however slowly the warehouse consumes it.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO, NoReturn

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

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
from shutter_assets.lib.drop.known_hosts import KnownHosts, read_known_hosts
from shutter_assets.lib.log_names import is_hidden

log = logging.getLogger(__name__)

DEFAULT_PORT = 22
# Reads are pipelined a window at a time: 64 x 32 KiB requests in flight, then the next window
# once this one is read. paramiko's whole-file prefetch keeps every answer until it is read, so a
# consumer slower than the network (a loaded warehouse) buffered the whole file in memory.
READ_SIZE = 32 * 1024
PREFETCH_REQUESTS = 64
WINDOW = PREFETCH_REQUESTS * READ_SIZE  # ~2 MiB buffered at most
READ_BUFFER = 256 * 1024
_ERRORS = (OSError, EOFError, paramiko.SSHException)


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def _refuse_revoked(client, where: str, known: KnownHosts, key: paramiko.PKey) -> None:
    line = known.revoked_line(key)
    if line is not None:
        client.close()
        raise DropError(
            f"SFTP server {where} offered host key {_fingerprint(key)}, which line {line} of "
            f"{known.path} marks @revoked: refused. Ask the server's administrator for its new "
            "host key and list that one instead"
        )


class _RefuseUnknownKey(paramiko.MissingHostKeyPolicy):
    def __init__(self, where: str, known: KnownHosts) -> None:
        self.where, self.known = where, known

    def missing_host_key(self, client, hostname, key) -> None:
        _refuse_revoked(client, self.where, self.known, key)
        client.close()
        path = self.known.path
        if lines := self.known.authority_lines(hostname):
            raise DropError(
                f"SFTP server {self.where} offered host key {_fingerprint(key)}, which only the "
                f"@cert-authority line(s) {', '.join(map(str, lines))} of {path} could vouch "
                "for, and this client cannot check host certificates: refused. After checking "
                "the fingerprint with the server's administrator, add the server's own host key "
                f"to {path} as the line '{hostname} {key.get_name()} {key.get_base64()}' "
                "(ssh-keyscan -p PORT HOST prints it)"
            )
        raise DropError(
            f"SFTP server {self.where} offered host key {_fingerprint(key)}, which is not in "
            f"{path}: refused. After checking the fingerprint with the server's "
            f"administrator, add it (ssh-keyscan -p PORT HOST >> {path}) or point "
            "SFTP_KNOWN_HOSTS at a file that lists it"
        )


class _AcceptWithWarning(paramiko.MissingHostKeyPolicy):
    def __init__(self, where: str, known: KnownHosts) -> None:
        self.where, self.known = where, known

    def missing_host_key(self, client, hostname, key) -> None:
        _refuse_revoked(client, self.where, self.known, key)
        log.warning(
            "accepting the UNVERIFIED host key %s of SFTP server %s because "
            "SFTP_INSECURE_ACCEPT_ANY_HOST_KEY is set and SFTP_KNOWN_HOSTS is not; anyone able to "
            "intercept the connection can read the logs and the password",
            _fingerprint(key),
            self.where,
        )


class SftpDrop:
    def __init__(self, settings: DropSettings) -> None:
        self.settings = settings
        self.port = settings.port or DEFAULT_PORT
        self.where = f"sftp://{settings.user}@{settings.host}:{self.port}"
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._base = ""
        self._connect()

    def _host_key_policy(self, client: paramiko.SSHClient) -> paramiko.MissingHostKeyPolicy:
        s = self.settings
        explicit = s.known_hosts.strip()
        path = os.path.expanduser(explicit or "~/.ssh/known_hosts")
        if explicit and not os.path.isfile(path):
            raise DropError(
                f"known_hosts file {path!r} (SFTP_KNOWN_HOSTS) for {self.where} does not exist: "
                "create it with the server's verified host key"
            )
        known = KnownHosts(path)
        if os.path.isfile(path):
            try:
                known = read_known_hosts(path)
            except OSError as exc:
                raise DropError(f"cannot read known_hosts file {path!r}: {exc}") from exc
            # paramiko's lookup name: the bare host on port 22, "[host]:port" elsewhere
            lookup = s.host if self.port == DEFAULT_PORT else f"[{s.host}]:{self.port}"
            known.install(client, lookup)
        if s.insecure_accept_any_host_key and not explicit:
            return _AcceptWithWarning(self.where, known)
        if s.insecure_accept_any_host_key:
            log.warning(
                "SFTP_INSECURE_ACCEPT_ANY_HOST_KEY is ignored because SFTP_KNOWN_HOSTS is set "
                "(%s): host keys of %s are checked against it",
                path,
                self.where,
            )
        return _RefuseUnknownKey(self.where, known)

    def _connect(self) -> None:
        s = self.settings
        if not s.host:
            raise DropError("FTP_HOST is empty: set it to the log drop's SFTP server")
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(self._host_key_policy(client))
        try:
            client.connect(
                s.host,
                self.port,
                username=s.user,
                password=s.password,
                timeout=s.timeout_s,
                banner_timeout=s.timeout_s,
                auth_timeout=s.timeout_s,
                channel_timeout=s.timeout_s,
                look_for_keys=False,
                allow_agent=False,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise DropError(
                f"the host key of SFTP server {self.where} ({_fingerprint(exc.key)}) differs from "
                f"the one in known_hosts ({_fingerprint(exc.expected_key)}): refused. Either the "
                "server was reinstalled (update known_hosts once its administrator confirms) or "
                "someone intercepts the connection"
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise DropError(
                f"login to SFTP server {self.where} refused ({exc}); check FTP_USER and "
                "FTP_PASSWORD, and that the account may use SFTP with a password"
            ) from exc
        except DropError:
            client.close()
            raise
        except _ERRORS as exc:
            client.close()
            raise DropError(
                f"cannot connect to SFTP server {self.where}: {exc!r}; check FTP_HOST and "
                "FTP_PORT, that sshd is running and that no firewall blocks the port"
            ) from exc
        try:
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(s.timeout_s)
        except _ERRORS as exc:
            client.close()
            raise DropError(
                f"SFTP server {self.where} refused the sftp subsystem ({exc!r}); check that sshd "
                "has 'Subsystem sftp' configured"
            ) from exc
        try:
            self._base = self._remote_folder(sftp)
        except DropError:
            client.close()
            raise
        self._client, self._sftp = client, sftp

    def _remote_folder(self, sftp: paramiko.SFTPClient) -> str:
        """``FTP_REMOTE_DIR`` as an absolute path on the server; DropError when not a folder."""
        remote_dir = self.settings.remote_dir
        try:
            base = sftp.normalize(remote_dir.strip() or ".").rstrip("/")
            if not stat.S_ISDIR(sftp.stat(base or "/").st_mode or 0):
                raise OSError(f"{base} is not a folder")
        except _ERRORS as exc:
            raise DropError(
                f"folder {remote_dir!r} not found on SFTP server {self.where} ({exc}); check "
                "FTP_REMOTE_DIR (relative to the user's home folder)"
            ) from exc
        return base

    def _session(self) -> paramiko.SFTPClient:
        """The SFTP session, reconnected if the server dropped the previous one."""
        if self._sftp is not None and self._client is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return self._sftp
            self.close()
        self._connect()
        assert self._sftp is not None
        return self._sftp

    def _failed(self, exc: BaseException) -> None:
        """After a failure other than a missing or forbidden file the session may be dead (its
        transport notices only later): drop it, so the next call reconnects."""
        if not isinstance(exc, (FileNotFoundError, PermissionError)):
            self.close()

    def _abs(self, rel: str) -> str:
        return f"{self._base}/{rel}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    def list_files(self) -> Listing:
        sftp = self._session()
        found: list[RemoteFile] = []
        skipped: list[SkippedName] = []
        folder = self._base or "/"
        try:
            for entry in _listdir_attr(sftp, folder):
                mode = entry.st_mode or 0
                if is_hidden(entry.filename) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    continue
                if skip := unusable(entry.filename):
                    skipped.append(skip)
                elif stat.S_ISREG(mode):
                    found.append(_remote_file(entry, entry.filename))
                elif entry.filename != ARCHIVE_DIR:
                    folder = self._abs(entry.filename)
                    for sub in _listdir_attr(sftp, folder):
                        path = f"{entry.filename}/{sub.filename}"
                        if is_hidden(sub.filename) or not stat.S_ISREG(sub.st_mode or 0):
                            continue
                        if skip := unusable(path):
                            skipped.append(skip)
                        else:
                            found.append(_remote_file(sub, path))
        except _ERRORS as exc:
            self._failed(exc)
            raise DropError(
                f"cannot list folder {folder!r} on SFTP server {self.where}: {exc!r}"
            ) from exc
        return Listing(found, skipped)

    def open_read(self, path: str) -> BinaryIO:
        rel = drop_path(path)
        sftp = self._session()
        try:
            handle = sftp.open(self._abs(rel), "rb")
            size = handle.stat().st_size or 0
        except _ERRORS as exc:
            self._failed(exc)
            raise DropError(
                f"cannot download {rel!r} from SFTP server {self.where} ({exc!r}); the file may "
                "have been moved or removed since it was listed"
            ) from exc
        raw = _SftpDownload(self, handle, rel, size)
        return io.BufferedReader(raw, buffer_size=READ_BUFFER)  # type: ignore[return-value]

    def archive(self, path: str) -> str:
        rel = drop_path(path)
        new_path = archive_path(rel)
        sftp = self._session()
        try:
            try:
                sftp.posix_rename(self._abs(rel), self._abs(new_path))
            except FileNotFoundError:
                self._make_folders(sftp, new_path.rsplit("/", 1)[0])
                sftp.posix_rename(self._abs(rel), self._abs(new_path))
        except _ERRORS as exc:
            self._failed(exc)
            raise DropError(
                f"cannot move {rel!r} to {new_path!r} on SFTP server {self.where} ({exc!r}); "
                "check that the file still exists and that FTP_USER may write to the drop folder"
            ) from exc
        return new_path

    def _make_folders(self, sftp: paramiko.SFTPClient, folder: str) -> None:
        current = ""
        for part in folder.split("/"):
            current = f"{current}/{part}" if current else part
            try:
                sftp.mkdir(self._abs(current))
            except OSError:
                if not stat.S_ISDIR(sftp.stat(self._abs(current)).st_mode or 0):
                    raise


def _listdir_attr(sftp: paramiko.SFTPClient, folder: str) -> list[paramiko.SFTPAttributes]:
    """``sftp.listdir_attr(folder)``, except that names that are not UTF-8 do not fail it.

    paramiko decodes every name as strict UTF-8, so one Latin-1 name (``Relev\\xe9.txt``) makes
    the whole folder unreadable (paramiko issue #546, open since 2015). This is the same exchange
    (``OPENDIR``, ``READDIR`` until EOF, ``CLOSE``, through paramiko's own request call) with names
    decoded by ``surrogateescape``, so ``log_names`` can refuse that one name and keep the rest.
    """
    kind, msg = sftp._request(CMD_OPENDIR, folder)
    if kind != CMD_HANDLE:
        raise paramiko.SFTPError("Expected handle")
    handle = msg.get_binary()
    entries = []
    try:
        while True:
            try:
                kind, msg = sftp._request(CMD_READDIR, handle)
            except EOFError:
                break
            if kind != CMD_NAME:
                raise paramiko.SFTPError("Expected name response")
            for _ in range(msg.get_int()):
                name = msg.get_string().decode("utf-8", "surrogateescape")
                longname = msg.get_string().decode("utf-8", "surrogateescape")
                entries.append(paramiko.SFTPAttributes._from_msg(msg, name, longname))
    finally:
        sftp._request(CMD_CLOSE, handle)
    return entries


def _remote_file(entry: paramiko.SFTPAttributes, path: str) -> RemoteFile:
    return RemoteFile(path, entry.st_size or 0, datetime.fromtimestamp(entry.st_mtime or 0, UTC))


class _SftpDownload(io.RawIOBase):
    """An SFTP file as a raw stream, read ahead one ``WINDOW`` at a time (``readv``: its reads
    pipelined), that raises instead of ending short."""

    def __init__(self, drop: SftpDrop, handle: paramiko.SFTPFile, path: str, size: int) -> None:
        super().__init__()
        self.drop, self.handle, self.path, self.size = drop, handle, path, size
        self.where = drop.where
        self.received = 0
        self.requested = 0  # bytes asked for in the windows so far
        self.pieces: Iterator[bytes] = iter(())
        self.pending = b""

    def readable(self) -> bool:
        return True

    def _next_piece(self) -> bytes:
        """The next piece of the current window, the next window once it is used up; b"" at the
        end of the listed size."""
        piece = next(self.pieces, None)
        if piece is None:
            if self.requested >= self.size:
                return b""
            end = min(self.requested + WINDOW, self.size)
            chunks = [(o, min(READ_SIZE, end - o)) for o in range(self.requested, end, READ_SIZE)]
            self.requested = end
            self.pieces = self.handle.readv(chunks)
            piece = next(self.pieces, b"")
        return piece

    def readinto(self, buffer) -> int:
        try:
            data = self.pending or self._next_piece()
        except _ERRORS as exc:
            self.drop._failed(exc)
            self._fail(f"the connection broke after {self.received} bytes: {exc!r}")
        data, self.pending = data[: len(buffer)], data[len(buffer) :]
        if not data:
            if self.received < self.size:
                self._fail(f"only {self.received} of {self.size} bytes arrived")
            return 0
        count = len(data)
        buffer[:count] = data
        self.received += count
        return count

    def _fail(self, what: str) -> NoReturn:
        raise DropError(
            f"download of {self.path!r} from SFTP server {self.where} failed: {what}; the file is "
            "left in place and will be retried"
        )

    def close(self) -> None:
        if not self.closed:
            try:
                self.handle.close()
            except _ERRORS:
                log.debug("closing %s on %s failed", self.path, self.where, exc_info=True)
        super().close()
