"""The plant's SFTP machines (issue 11): some machines upload through a real sshd on loopback.

In the plant, part of the machines push their logs over SFTP into the folder the other drop
(vsftpd) serves; the platform still reads one drop. ``SftpMachines`` is that part of the plant
for ``bench/soak.py``: a thread that, for its ``machines`` (by default the plant's last two),
produces the live feed's files (``live_file``, the very files ``python -m shutter_assets.simulator
live --machines <the others>`` leaves out, so names and times never clash with the main feed)
and uploads each one with paramiko like a machine does, alternately:

  renamed  written under ``NAME.part`` or ``NAME.tmp`` in two halves, then ``posix_rename``d
  grown    written under its final name in ``grow_steps`` appends spread over ``grow_s`` seconds

It starts sshd itself (``tests/fixtures/servers.py``, the account vsftpd logs in) with a host key
of its own, kept across ``restart_sshd`` (sshd stopped with its sessions, started again on the
same port after ``pause_s``), so the machines verify the same identity after a restart, as a real
one would. The SSH session stays open between files; on any failure the feed reconnects (a try
every second, bounded by ``retry_s`` per file) and uploads the file in progress again from
scratch: a temporary name is rewritten from its first byte before the rename (a half ``.part``
left behind is never renamed into place), a grown file is truncated and grown again. A file whose
final name already holds exactly its bytes (the rename went through, its answer was lost) is not
uploaded again.

``written[name]`` (wall clock, seconds: the file's last write, the rename or the last append) and
``lines[name]`` (the simulator's truth: accepted lines) have the shape of ``FileFeed``'s, so the
soak compares these files and measures their lag like the others; ``truths[name]`` (the
``FileTruth``) feeds the marts' comparison. ``error`` is set when the feed
gave up (``problems()``): its undelivered files would otherwise silently drop out of the truth.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paramiko

from shutter_assets.simulator.logs import DEFAULT_TZ, FileTruth, live_file
from shutter_assets.simulator.order_book import DEFAULT_ORDERS, DEFAULT_START, build_order_book
from shutter_assets.simulator.plant import MACHINES
from tests.fixtures.servers import SshdServer, SystemUser

_ERRORS = (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError)


def default_machines(n: int) -> list[str]:
    """The plant's last ``n`` machines (none for 0): the ones that upload over SFTP."""
    return [m.machine_id for m in MACHINES[len(MACHINES) - n :]] if n > 0 else []


class SftpMachines(threading.Thread):
    """``count`` files of ``machines`` uploaded over SFTP into ``remote_dir`` (relative to the
    account's home), one every ``interval_s`` seconds (module doc); ``finished`` is set then. With
    ``overtime`` the machines go on producing files until ``stop()`` (the plant keeps running
    while the soak still injects faults). ``stop()`` ends the feed after the file in progress and
    closes its session; ``close()`` also stops sshd."""

    def __init__(
        self,
        user: SystemUser,
        remote_dir: str,
        machines: list[str],
        count: int,
        interval_s: float,
        seed: int = 1,
        after_days: int = 2,
        grow_s: float = 3.0,
        grow_steps: int = 3,
        retry_s: float = 120.0,
        tz: str = DEFAULT_TZ,
        overtime: bool = False,
    ) -> None:
        super().__init__(daemon=True)
        if not machines:
            raise ValueError("SftpMachines needs at least one machine")
        self.user = user
        self.remote_dir = remote_dir.strip("/")
        self.machines = list(machines)
        self.count = count
        self.interval_s = interval_s
        self.seed = seed
        self.after_days = after_days
        self.grow_s = grow_s
        self.grow_steps = grow_steps
        self.retry_s = retry_s
        self.tz = tz
        self.overtime = overtime
        self.written: dict[str, float] = {}
        self.how: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.truths: dict[str, FileTruth] = {}  # for the marts' comparison
        self.interrupted = 0  # uploads cut part-way and started again
        self.reconnects = 0  # sessions opened after the first
        self.error: str | None = None
        self.busy = threading.Event()  # an upload is in progress
        self.finished = threading.Event()  # ``count`` files delivered (or the feed gave up)
        self.stopped = threading.Event()
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.Lock()  # the session, between the feed and restart_sshd
        self.keydir = Path(tempfile.mkdtemp(prefix="shutter-sftp-machines-"))
        self.host_key = self.keydir / "ssh_host_ed25519_key"
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "shutter-sftp-machines"]
        subprocess.run([*keygen, "-f", self.host_key], check=True, capture_output=True)
        self.sshd = SshdServer(user, host_key=self.host_key)
        self.known_hosts = self.keydir / "known_hosts"
        self.known_hosts.write_text(Path(self.sshd.known_hosts).read_text())

    # --- the session ---------------------------------------------------------------------------

    def _session(self) -> paramiko.SFTPClient:
        with self._lock:
            if self._sftp is not None and self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return self._sftp
            self._drop_session()
            client = paramiko.SSHClient()
            client.load_host_keys(str(self.known_hosts))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            try:
                client.connect(
                    self.sshd.host,
                    self.sshd.port,
                    username=self.user.name,
                    password=self.user.password,
                    timeout=10,
                    banner_timeout=10,
                    auth_timeout=10,
                    channel_timeout=10,
                    look_for_keys=False,
                    allow_agent=False,
                )
                sftp = client.open_sftp()
                sftp.get_channel().settimeout(10)
            except BaseException:
                client.close()
                raise
            if self.written or self.interrupted:
                self.reconnects += 1
            self._client, self._sftp = client, sftp
            return sftp

    def _drop_session(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    # --- the feed ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            book = build_order_book(self.seed, DEFAULT_ORDERS, DEFAULT_START)
            k = 0
            while not self.stopped.is_set():
                name, data, truth = live_file(
                    self.seed,
                    k,
                    machines=self.machines,
                    tz=self.tz,
                    book=book,
                    after_days=self.after_days,
                )
                self._deliver(k, name, data)
                self.lines[name] = truth.accepted
                self.truths[name] = truth
                k += 1
                if k == self.count:
                    self.finished.set()
                    if not self.overtime:
                        break
                if self.stopped.wait(self.interval_s):
                    break
        except Exception as exc:  # reported by problems(), never silently lost
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished.set()
            self.stopped.wait()
            with self._lock:
                self._drop_session()

    def _deliver(self, k: int, name: str, data: bytes) -> None:
        """Upload file ``k`` until it is complete, again from scratch after a failure."""
        path = f"{self.remote_dir}/{name}"
        deadline = time.monotonic() + self.retry_s
        failed: BaseException | None = None
        while True:
            try:
                sftp = self._session()
                self.busy.set()
                try:
                    if failed is not None and self._holds(sftp, path, data):
                        pass  # delivered by the try that failed: only its answer was lost
                    elif k % 3 == 2:
                        self._grow(sftp, path, data)
                    else:
                        self._rename(sftp, path, data, ".part" if k % 2 == 0 else ".tmp")
                finally:
                    self.busy.clear()
                self.written[name] = time.time()
                self.how[name] = "grown" if k % 3 == 2 else "renamed"
                return
            except _ERRORS as exc:
                if failed is None:
                    self.interrupted += 1
                failed = exc
                with self._lock:
                    self._drop_session()
                if time.monotonic() >= deadline or self.stopped.is_set():
                    raise RuntimeError(f"{name} not delivered over SFTP: {exc!r}") from exc
                time.sleep(1)

    def _holds(self, sftp: paramiko.SFTPClient, path: str, data: bytes) -> bool:
        try:
            if sftp.stat(path).st_size != len(data):
                return False
        except FileNotFoundError:
            return False
        with sftp.open(path, "rb") as fh:
            return fh.read() == data

    def _rename(self, sftp: paramiko.SFTPClient, path: str, data: bytes, suffix: str) -> None:
        """Two halves under the temporary name (``w`` truncates a half left behind), a pause as
        a slow link would make, then the rename over the final name."""
        temp = path + suffix
        half = len(data) // 2
        with sftp.open(temp, "wb") as fh:
            fh.write(data[:half])
            time.sleep(min(1.0, self.grow_s / 3))
            fh.write(data[half:])
        sftp.posix_rename(temp, path)

    def _grow(self, sftp: paramiko.SFTPClient, path: str, data: bytes) -> None:
        """The first part under the final name (truncating an earlier try), then appends, the
        file opened again for each as a controller flushing its log does."""
        steps = max(1, self.grow_steps)
        cuts = [len(data) * i // steps for i in range(steps + 1)]
        with sftp.open(path, "wb") as fh:
            fh.write(data[: cuts[1]])
        for a, b in itertools.pairwise(cuts[1:]):
            time.sleep(self.grow_s / steps)
            with sftp.open(path, "ab") as fh:
                fh.write(data[a:b])

    # --- faults and the end --------------------------------------------------------------------

    def restart_sshd(self, pause_s: float = 10, wait_busy_s: float = 60) -> bool:
        """sshd stopped with every session, started again on the same port with the same host
        key after ``pause_s``. Waits (bounded) for an upload in progress first, unless the feed is
        over; True when an upload was cut or the running feed's session was (something hit: a
        restart after the last file tests nothing). A server that does not start again raises."""

        def live() -> bool:
            over = self.error is not None or (self.finished.is_set() and not self.overtime)
            return not (over or self.stopped.is_set())

        deadline = time.monotonic() + wait_busy_s
        while not self.busy.is_set() and live() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            hit = self.busy.is_set() or (live() and self._client is not None)
            port = self.sshd.port
            self.sshd.stop()
        time.sleep(pause_s)
        self.sshd = SshdServer(self.user, port=port, host_key=self.host_key)
        return hit

    def problems(self) -> list[str]:
        """Why files of this feed may be missing from the truth (empty when none)."""
        return [f"SFTP machines: {self.error}"] if self.error else []

    def stop(self, timeout_s: float = 60) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=timeout_s)

    def close(self) -> None:
        self.stop()
        self.sshd.stop()
        shutil.rmtree(self.keydir, ignore_errors=True)
