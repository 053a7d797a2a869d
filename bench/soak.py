"""Soak (issue 11): the live platform under faults, then raw, raw_commandes and the marts vs truth.

    .venv/bin/python bench/soak.py                    # 5 minutes, a fault every ~40 s
    .venv/bin/python bench/soak.py --minutes 30 --fault-every 60

Same production shape as ``bench/freshness.py`` (``bench/live_platform.py``), default settings.
While the live simulator writes files, faults are injected at random moments (seeded):

  pg_terminate   every client backend of the warehouse terminated once one is at work (mid-COPY,
                 mid-dbt build)
  daemon_kill    ``dagster-daemon`` SIGKILLed, restarted 5 s later
  worker_kill    a run worker (the code server's process running a run) SIGKILLed
  slow_file      a file grown in place for longer than ``LOGS_MIN_AGE_S`` + two sensor ticks
  vsftpd_restart vsftpd (the drop, ``--drop ftp``, the default) stopped, started 10 s later
  sshd_restart   sshd (the SFTP machines' server) stopped with its sessions, started again on
                 the same port 10 s later, while a machine uploads (waited for, bounded)
  erp_cut        the MariaDB connection cut for 10 s (``tests/fixtures/tcp_proxy.py``) in the
                 middle of a reply while a sync reads through it

With ``--drop ftp``, the plant's last ``--sftp-machines`` machines (2; 0: none) are SFTP
machines (``bench/sftp_machines.py``): they upload their files with paramiko through a real sshd
on loopback into the folder vsftpd serves (temporary name then rename, or grown in place), and
the platform still reads that one drop over FTP; the live simulator writes the other machines'
files. Every machine keeps the pace it has without SFTP (a file every ``--interval`` x the plant's
machine count), so the plant's total rate is unchanged; the SFTP machines go on uploading until
the faults stop, so an ``sshd_restart`` drawn after the simulator's last file still cuts one.

Each kind waits (bounded) for something to hit: a run worker, a warehouse backend, a sync
reading. Kinds are drawn in shuffled rounds, so every kind is injected once before any twice;
after the plant's last file, the kinds not injected yet are tried again (bounded).
Meanwhile the ERP works (``OrderEdits``: orders created, edited with a line hard-deleted,
updated) and a sync is queued every ``--sync-every`` seconds as the schedule would.

Then faults stop, one last sync runs, the platform catches up (bounded; no run left queued or
running), and every file the simulator and the SFTP machines finished is compared with its truth
(the simulator's accepted lines, never re-parsed from the file): the current version of each
path loaded exactly once, its ``raw.machine_events`` line count equal, no line left by a version
that is not current; the simulator ended cleanly; every ``raw_commandes`` table equals MariaDB
row for row (live rows), and the mirrored lines the ERP hard-deleted are marked deleted; once a
dbt run started after that sync rebuilt ``order_production_status`` (bounded), every mart
derivable from the logs and the orders equals the truth computed in plain Python from the
simulator's events of every delivered file (``tests/fixtures/mart_truth.py``, to the
millisecond and the part, one row per key) and MariaDB's final rows.
``tests/test_soak.py`` runs a short one.
Prints the table of the issue: minutes, files, lines, faults by kind, runs failed and retried,
differences (must be 0), and the p50/p95 lag from a file's last write to the OEE mart.

The live feed also uploads an earlier file again under another name now and then (same bytes,
``FileFeed.duplicate_of``): of the two, one is loaded with the lines and the other recorded as
a ``duplicate`` of it (``compare_raw``). The plant has ten machines, taking turns in the feed
(the simulator's, or the SFTP machines').
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dagster as dg
from freshness import file_lags, settled, wait_for_sensor_tick
from live_platform import (
    BIN,
    LivePlatform,
    live_platform,
    load_average,
    percentiles,
    run_timeline,
)
from sftp_machines import SftpMachines, default_machines

from shutter_assets.defs.legacy_orders.schedule import JOB_NAME as SYNC_JOB
from shutter_assets.simulator.logs import FileTruth, live_file
from shutter_assets.simulator.order_book import DEFAULT_ORDERS, DEFAULT_START, build_order_book
from shutter_assets.simulator.plant import MACHINES
from tests.fixtures import mart_truth
from tests.fixtures.legacy_orders import PKS, mirror_table, mysql_rows, source_table
from tests.fixtures.servers import VsftpdServer, ensure_test_user
from tests.fixtures.tcp_proxy import OutageProxy

ORDER_MART = "marts/order_production_status"


def terminate_backends(platform: LivePlatform) -> bool:
    """Every client backend of the warehouse terminated, once one of them is at work (a query
    running or a transaction open: a COPY, a dbt build); False (nothing done) before then."""
    with platform.warehouse.with_db("postgres").connect(autocommit=True) as conn:
        killed = conn.execute(
            "with clients as ("
            " select pid, state from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid() and backend_type = 'client backend')"
            " select count(pg_terminate_backend(pid)) from clients"
            " where exists (select from clients where state <> 'idle')",
            (platform.warehouse.dbname,),
        ).fetchone()[0]
    return killed > 0


def kill_daemon(platform: LivePlatform) -> bool:
    platform.stop("daemon", signal.SIGKILL)
    time.sleep(5)
    platform.start_daemon()
    return True


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.extend(children.get(pid, []))
        stack.extend(children.get(pid, []))
    return out


def kill_run_worker(platform: LivePlatform) -> bool:
    """SIGKILL one run worker started by this platform's code server (never anyone else's).

    The gRPC server (``dagster api grpc`` under ``dagster code-server start``) starts each run in
    a ``multiprocessing`` spawn child; ``dagster api execute_run`` is matched too (other
    launchers). Only direct children of the gRPC server: the ERP sync's reader processes are
    the run's own children."""
    for pid in _descendants(platform.procs["code-server"].pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            parent_cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
        except OSError:
            continue
        spawned = b"spawn_main" in cmdline and b"grpc" in parent_cmdline
        if spawned or b"execute_run" in cmdline:
            os.kill(pid, signal.SIGKILL)
            return True
    return False


class SlowFiles:
    """Files grown in place in steps for longer than the settle time; their truth is recorded."""

    def __init__(self, platform: LivePlatform, first_k: int) -> None:
        self.platform = platform
        self.k = first_k
        self.written: dict[str, float] = {}
        self.lines: dict[str, int] = {}
        self.truths: dict[str, FileTruth] = {}
        self.threads: list[threading.Thread] = []

    def __call__(self, platform: LivePlatform) -> bool:
        name, data, truth = live_file(1, self.k, after_days=30)
        self.k += 1
        min_age = int(platform.env.get("LOGS_MIN_AGE_S") or 10)

        def grow() -> None:
            path = platform.drop / name
            steps = 6
            cut = [len(data) * i // steps for i in range(1, steps)]
            path.write_bytes(data[: cut[0]])
            for a, b in zip(cut, [*cut[1:], len(data)], strict=True):
                time.sleep((min_age + 20) / steps)
                with path.open("ab") as fh:
                    fh.write(data[a:b])
            self.written[name] = time.time()
            self.lines[name] = truth.accepted
            self.truths[name] = truth

        thread = threading.Thread(target=grow, daemon=True)
        thread.start()
        self.threads.append(thread)
        return True


class FtpDrop:
    """vsftpd as the drop (issue 11): the platform reads it with ``FTP_PROTOCOL=ftp`` while the
    simulator writes into the FTP account's folder on this machine, as the machines' uploads
    land there. ``restart`` is the fault: vsftpd stopped (its sessions cut) and started again on
    the same port 10 s later."""

    def __init__(self, platform: LivePlatform) -> None:
        self.user = ensure_test_user()
        self.folder = self.user.home / platform.workdir.name
        self.folder.mkdir()
        os.chown(self.folder, self.user.uid, self.user.gid)
        self.server = VsftpdServer(self.user)
        platform.local_drop = self.folder
        platform.env.update(
            FTP_PROTOCOL="ftp",
            FTP_HOST=self.server.host,
            FTP_PORT=str(self.server.port),
            FTP_USER=self.user.name,
            FTP_PASSWORD=self.user.password,
            FTP_REMOTE_DIR=self.folder.name,
        )

    def restart(self, platform: LivePlatform) -> bool:
        port = self.server.port
        self.server.stop()
        time.sleep(10)
        self.server = VsftpdServer(self.user, port=port)
        return True

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def compare_raw(
    platform: LivePlatform, lines: dict[str, int], duplicate_of: dict[str, str] | None = None
) -> list[str]:
    """Differences between the current version of each written file in raw and its truth, and
    lines left by versions that are not current.

    A re-upload (``duplicate_of``: copy -> original, same bytes) and its original are one
    content: exactly one of them is ``loaded`` with the lines (normally the original, the copy
    if both came in one run and it was read first), the other a ``duplicate`` row pointing to it
    with no lines (docs/machine_logs.md, "Loading: exactly once")."""
    with platform.warehouse.connect() as conn:
        rows = conn.execute(
            "select f.path, f.file_id, f.status, f.duplicate_of, "
            "(select count(*) from raw.machine_events e where e.file_id = f.file_id) "
            "from raw.ingested_files f where f.status <> 'superseded'"
        ).fetchall()
        # a version that is not current (superseded, duplicate, rejected) keeps no line
        stale = conn.execute(
            "select f.path, f.file_id, f.status, count(*) from raw.ingested_files f "
            "join raw.machine_events e on e.file_id = f.file_id "
            "where f.status <> 'loaded' group by 1, 2, 3 order by 1, 2"
        ).fetchall()
    current: dict[str, list[tuple]] = {}
    for path, *row in rows:
        current.setdefault(path, []).append(tuple(row))
    groups: dict[str, list[str]] = {}
    for copy, original in (duplicate_of or {}).items():
        groups.setdefault(original, [original]).append(copy)
    in_group = {p for group in groups.values() for p in group}
    out = [
        f"{path}: {n} lines left in raw by its {status} version {fid}"
        for path, fid, status, n in stale
    ]
    for path, expected in sorted(lines.items()):
        if path in in_group:
            continue
        loaded = [r for r in current.get(path, []) if r[1] == "loaded"]
        versions, events = len(loaded), sum(r[3] for r in loaded)
        if versions != 1 or events != expected:
            out.append(f"{path}: {versions} current version(s), {events} lines, truth {expected}")
    for original, group in sorted(groups.items()):
        expected = sum(lines.get(p, 0) for p in group)
        found = {p: current.get(p, []) for p in group}
        loaded = [(p, r) for p, rs in found.items() for r in rs if r[1] == "loaded"]
        if len(loaded) != 1 or loaded[0][1][3] != expected:
            got = ", ".join(f"{p} {r[1]} {r[3]} lines" for p, rs in found.items() for r in rs)
            out.append(f"{original} and its re-upload(s): {got or 'not in raw'}, truth {expected}")
            continue
        kept, (file_id, *_) = loaded[0]
        for p in group:
            if p != kept and [(r[1], r[2], r[3]) for r in found[p]] != [("duplicate", file_id, 0)]:
                out.append(f"{p}: {found[p]} in raw, truth a duplicate of {kept} (file {file_id})")
    for path in sorted(set(current) - set(lines) - in_group):
        out.append(f"{path}: in raw, never written by the simulator")
    return out


class OrderEdits(threading.Thread):
    """The ERP at work while syncs run (issue 11): orders created, edited with a line hard-deleted
    and another changed, order headers updated, one action every ``every_s`` seconds (seeded).
    Writes straight to MariaDB (the ERP is not behind our proxy); remembers the mirrored line ids
    it deleted, to check they are marked deleted at the end."""

    def __init__(self, platform: LivePlatform, seed: int, every_s: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.legacy = platform.legacy
        self.rng = random.Random(seed)
        self.seed_tag = str(seed)
        self.every_s = every_s
        self.stopped = threading.Event()
        self.actions: Counter[str] = Counter()
        self.deleted_lines: list[int] = []
        self.first_new_line = mysql_rows(
            self.legacy, "SELECT COALESCE(MAX(id_ligne), 0) + 1 FROM lignes_commande"
        )[0][0]

    def run(self) -> None:
        conn = self.legacy.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = ''")
                n = 0
                while not self.stopped.wait(self.every_s * self.rng.uniform(0.5, 1.5)):
                    n += 1
                    kind = self.rng.choice(["create", "edit", "update"])
                    getattr(self, kind)(cur, n)
                    self.actions[kind] += 1
        finally:
            conn.close()

    def _pick(self, cur, query: str) -> list[tuple]:
        cur.execute(query)
        return list(cur.fetchall())

    def create(self, cur, n: int) -> None:
        client = self.rng.choice(self._pick(cur, "SELECT id_client FROM clients"))[0]
        products = [p[0] for p in self._pick(cur, "SELECT id_produit FROM produits")]
        cur.execute(
            "INSERT INTO commandes (numero, id_client, date_commande, statut, montant_ht)"
            " VALUES (%s, %s, UTC_TIMESTAMP(), 'VALIDEE', %s)",
            (f"SOAK-{self.seed_tag}-{n}", client, self.rng.randint(100, 9000)),
        )
        order = cur.lastrowid
        for _ in range(3):
            cur.execute(
                "INSERT INTO lignes_commande (id_commande, id_produit, largeur_mm, hauteur_mm,"
                " coloris, quantite, prix_unitaire) VALUES (%s, %s, %s, %s, 'Blanc', %s, %s)",
                (
                    order,
                    self.rng.choice(products),
                    self.rng.randint(400, 3000),
                    self.rng.randint(400, 2500),
                    self.rng.randint(1, 9),
                    self.rng.randint(50, 900),
                ),
            )

    def edit(self, cur, n: int) -> None:
        lines = self._pick(
            cur,
            "SELECT id_commande, MIN(id_ligne), MAX(id_ligne) FROM lignes_commande"
            " GROUP BY id_commande HAVING COUNT(*) >= 2",
        )
        if not lines:
            return
        order, first, last = self.rng.choice(lines)
        cur.execute("DELETE FROM lignes_commande WHERE id_ligne = %s", (last,))
        if last < self.first_new_line:
            self.deleted_lines.append(last)
        cur.execute(
            "UPDATE lignes_commande SET quantite = quantite + 1 WHERE id_ligne = %s", (first,)
        )
        cur.execute(
            "UPDATE commandes SET montant_ht = montant_ht + 1 WHERE id_commande = %s", (order,)
        )

    def update(self, cur, n: int) -> None:
        order = self.rng.choice(self._pick(cur, "SELECT id_commande FROM commandes"))[0]
        cur.execute(
            "UPDATE commandes SET statut = %s, commentaire = %s WHERE id_commande = %s",
            (self.rng.choice(["VALIDEE", "EN_PRODUCTION", "EXPEDIEE"]), f"soak edit {n}", order),
        )


def feed_truths(
    platform: LivePlatform, delivered: set[str], count: int, machines: list[str] | None = None
) -> list[FileTruth]:
    """The truth of each file the live feed delivered. ``live_file`` is deterministic: the k-th
    file is recomputed with the arguments ``start_simulator`` gives the simulator (its defaults:
    seed 1, the order book of the start, two days after it; ``machines``: its ``--machines``)."""
    book = build_order_book(1, DEFAULT_ORDERS, DEFAULT_START)
    tz = platform.env["PLANT_TIMEZONE"]
    out = []
    for k in range(count):
        name, _, truth = live_file(1, k, machines=machines, tz=tz, book=book, after_days=2)
        if name in delivered:
            out.append(truth)
    return out


def orders_rebuilt(platform: LivePlatform, since: float) -> bool:
    """True once a run started after the last ERP sync created after ``since`` succeeded, and
    materialized ``order_production_status``: the order marts then hold MariaDB's final rows."""
    with platform.instance() as instance:
        runs = run_timeline(instance, since)
    synced = [r.end for r in runs if r.pipeline == "legacy_orders" and r.status == "SUCCESS"]
    last = max(filter(None, synced), default=None)
    return last is not None and any(
        r.started is not None and r.started >= last and r.end is not None and ORDER_MART in r.assets
        for r in runs
    )


def runs_in_flight(platform: LivePlatform, since: float) -> int:
    """Runs created after ``since`` that have not finished (queued to canceling): compared while
    one still writes, raw or a mart could change after the comparison (a retry, a late build)."""
    unfinished = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    created_after = datetime.fromtimestamp(since).astimezone()
    with platform.instance() as instance:
        return instance.get_runs_count(
            filters=dg.RunsFilter(statuses=unfinished, created_after=created_after)
        )


def compare_marts(platform: LivePlatform, files: list[FileTruth]) -> list[str]:
    """Differences between every log- and order-derived mart and the truth of the delivered
    ``files`` and of MariaDB's rows now (``tests/fixtures/mart_truth.py``)."""
    truth = mart_truth.logs_truth(files, platform.env["PLANT_TIMEZONE"])
    orders = mart_truth.erp_orders(platform.legacy)
    with platform.warehouse.connect() as conn:
        return mart_truth.compare_marts(conn, truth, orders)


def launch_sync(platform: LivePlatform) -> None:
    """One ERP sync queued as the schedule would (``dagster job launch``: queue, daemon)."""
    workspace = str(platform.workdir / "workspace.yaml")
    platform.run([str(BIN / "dagster"), "job", "launch", "-w", workspace, "-j", SYNC_JOB], 300)


def wait_for_sync(platform: LivePlatform, since: float, timeout_s: float) -> bool:
    """True once a sync run created after ``since`` (or its retry) succeeded."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with platform.instance() as instance:
            runs = run_timeline(instance, since)
        if any(r.pipeline == "legacy_orders" and r.status == "SUCCESS" for r in runs):
            return True
        time.sleep(5)
    return False


def compare_orders(platform: LivePlatform, deleted_lines: list[int]) -> list[str]:
    """Differences between each ``raw_commandes`` table (live rows) and MariaDB, row by row, and
    mirrored lines deleted at the source that are not marked deleted."""
    out = []
    for table in PKS:
        names, expected = source_table(platform.legacy, table)
        actual = mirror_table(platform.warehouse, table, names)
        if len(actual) != len(expected):
            out.append(f"{table}: {len(actual)} live rows in raw, {len(expected)} in MariaDB")
        out += [
            f"{table}: source {want} mirror {got}"
            for want, got in zip(expected, actual, strict=False)
            if want != got
        ][:5]
    if deleted_lines:
        with platform.warehouse.connect() as conn:
            marked = conn.execute(
                "select count(*) from raw_commandes.lignes_commande "
                "where id_ligne = any(%s) and _deleted_at is not null",
                (deleted_lines,),
            ).fetchone()[0]
        if marked != len(set(deleted_lines)):
            out.append(f"lignes_commande: {marked} of {len(set(deleted_lines))} deleted marked")
    return out


def cut_erp(proxy: OutageProxy) -> Callable[[LivePlatform], bool]:
    """The MariaDB connection cut mid-reply while a sync reads, for 10 s. A sync is queued first
    so that one reads within the bounded wait; the proxy cuts itself when it carries a reply
    (``OutageProxy.arm_cut``): polling for open connections missed the short incremental reads."""

    def fault(platform: LivePlatform) -> bool:
        cut = proxy.arm_cut()
        # A sync of its own, so there is one to cut even between the periodic ones.
        threading.Thread(target=launch_sync, args=(platform,), daemon=True).start()
        if not cut.wait(300) and proxy.disarm():
            return False
        cut.wait()  # a cut that began as the wait ended
        time.sleep(10)
        proxy.start()
        return True

    return fault


def waiting_for(kill: Callable[[LivePlatform], bool], timeout_s: float = 90):
    """``kill`` retried until it found something to kill (bounded): a fault at a random moment
    that lands where nothing runs would inject nothing."""

    def fault(platform: LivePlatform) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if kill(platform):
                return True
            time.sleep(0.5)
        return False

    return fault


def untouched(lags: list, spans: list[tuple[float, float]], slow: set[str]) -> list:
    """The files in the marts whose way there no fault crossed: no fault injected (or still
    running) between the file's last write and its build into the marts, the slow files (a
    fault themselves) left out. Their lag is the platform's own, comparable with the freshness
    bench; the others measure recovery (issue 18: "the soak's lag agrees")."""
    return [
        x
        for x in lags
        if x.mart is not None
        and x.path not in slow
        and not any(start <= x.mart and end >= x.written for start, end in spans)
    ]


@dataclass
class SoakReport:
    minutes: float
    files: int
    lines: int
    faults: Counter[str]
    kinds: list[str]
    runs: int
    failed: int
    retried: int
    unfinished: int
    order_actions: Counter[str]
    differences: list[str]
    p50: float
    p95: float
    quiet_files: int
    quiet_p50: float
    quiet_p95: float
    not_in_marts: int
    load: str
    sftp_files: int = 0

    def table(self) -> str:
        return "\n".join(
            [
                f"minutes run {self.minutes:.1f}",
                f"files {self.files} ({self.sftp_files} over SFTP), lines {self.lines}",
                "orders " + ", ".join(f"{k} {v}" for k, v in sorted(self.order_actions.items())),
                "faults " + ", ".join(f"{k} {self.faults[k]}" for k in self.kinds),
                f"runs {self.runs}, failed {self.failed}, retried {self.retried}, "
                f"still not finished {self.unfinished}",
                f"differences {len(self.differences)}",
                *(f"  {line}" for line in self.differences[:20]),
                f"last write -> marts.machine_oee_daily p50 {self.p50:.0f} s, "
                f"p95 {self.p95:.0f} s ({self.not_in_marts} file(s) not in the marts); "
                f"load average {self.load}",
                f"  files no fault struck between last write and marts: {self.quiet_files}, "
                f"p50 {self.quiet_p50:.0f} s, p95 {self.quiet_p95:.0f} s "
                "(the figure to set beside bench/freshness.py)",
            ]
        )


def soak(
    minutes: float = 5,
    interval: float = 3,
    fault_every: float = 40,
    sync_every: float = 60,
    catch_up: float = 600,
    seed: int = 11,
    drop: str = "ftp",
    sftp_machines: int = 2,
    keep: bool = False,
    log: Callable[[str], None] = print,
) -> SoakReport:
    """The live platform under faults for ``minutes``, then compared with the truth (module doc).
    Fault kinds are drawn in shuffled rounds, so each kind comes once before any comes twice.
    ``sftp_machines``: how many of the plant's machines upload over SFTP (``--drop ftp`` only)."""
    rng = random.Random(seed)
    count = max(1, math.ceil(minutes * 60 / (interval * 1.25)))
    sftp_ids = default_machines(sftp_machines if drop == "ftp" else 0)
    main_ids = [m.machine_id for m in MACHINES if m.machine_id not in sftp_ids]
    if not main_ids:
        raise ValueError(f"--sftp-machines {sftp_machines}: no machine left for the main feed")
    with live_platform(keep=keep) as platform:
        proxy = OutageProxy((platform.legacy.host, platform.legacy.port))
        platform.env.update(MYSQL_HOST="127.0.0.1", MYSQL_PORT=str(proxy.port))
        ftp = FtpDrop(platform) if drop == "ftp" else None
        sftp: SftpMachines | None = None
        try:
            log(f"work folder {platform.workdir}; load average {load_average()}")
            platform.prime()
            platform.start_code_server()
            platform.start_daemon()
            wait_for_sensor_tick(platform, "machine_logs_sensor", 300)
            began = time.time()
            if sftp_ids and ftp is not None:
                # Each machine keeps the pace it has without SFTP: a file every interval x plant.
                pace = interval * len(MACHINES)
                feed = platform.start_simulator(
                    pace / len(main_ids),
                    math.ceil(count * len(main_ids) / len(MACHINES)),
                    "--machines",
                    ",".join(main_ids),
                )
                sftp = SftpMachines(
                    ftp.user,
                    ftp.folder.name,
                    sftp_ids,
                    count=math.ceil(count * len(sftp_ids) / len(MACHINES)),
                    interval_s=pace / len(sftp_ids),
                    tz=platform.env["PLANT_TIMEZONE"],
                    overtime=True,
                )
                sftp.start()
                log(f"SFTP machines {', '.join(sftp_ids)} through sshd on port {sftp.sshd.port}")
            else:
                feed = platform.start_simulator(interval, count)
            slow = SlowFiles(platform, first_k=10_000)
            edits = OrderEdits(platform, seed)
            edits.start()
            kinds = {
                "pg_terminate": waiting_for(terminate_backends),
                "daemon_kill": kill_daemon,
                "worker_kill": waiting_for(kill_run_worker),
                "slow_file": slow,
                "erp_cut": cut_erp(proxy),
            }
            if ftp is not None:
                kinds["vsftpd_restart"] = ftp.restart
            if sftp is not None:
                kinds["sshd_restart"] = lambda _platform: sftp.restart_sshd()
            faults: Counter[str] = Counter()
            fault_spans: list[tuple[float, float]] = []  # (injected, returned), wall clock
            rounds: list[str] = []
            next_sync = time.monotonic()
            next_fault = time.monotonic() + fault_every * rng.uniform(0.5, 1.5)
            # After the plant's last file, only kinds not injected yet, for at most as long again.
            faults_end = time.monotonic() + 2 * minutes * 60 + 60

            def pending() -> list[str]:
                return [k for k in sorted(kinds) if not faults[k]]

            def feeding() -> bool:
                sftp_on = sftp is not None and not sftp.finished.is_set()
                return feed.proc.poll() is None or sftp_on

            while time.monotonic() < faults_end and (feeding() or pending()):
                if time.monotonic() >= next_sync:
                    launch_sync(platform)
                    next_sync = time.monotonic() + sync_every
                if time.monotonic() >= next_fault:
                    if not feeding():
                        rounds = [k for k in rounds if not faults[k]] or pending()
                    rounds = rounds or rng.sample(sorted(kinds), len(kinds))
                    kind = rounds.pop()
                    struck = time.time()
                    hit = kinds[kind](platform)
                    faults[kind] += hit
                    if hit:
                        fault_spans.append((struck, time.time()))
                    log(f"{time.time() - began:6.0f} s  fault {kind}{'' if hit else ': no target'}")
                    next_fault = time.monotonic() + fault_every * rng.uniform(0.5, 1.5)
                time.sleep(1)
            edits.stopped.set()
            edits.join(timeout=30)
            feed.join(timeout=10)
            if sftp is not None:
                sftp.stop()
                log(
                    f"SFTP machines: {len(sftp.written)} files, {sftp.interrupted} upload(s) cut "
                    f"and redone, {sftp.reconnects} reconnection(s)"
                )
            for thread in slow.threads:
                thread.join(timeout=120)
            sftp_written, sftp_lines = (sftp.written, sftp.lines) if sftp else ({}, {})
            written = {**feed.written, **slow.written, **sftp_written}
            lines = {**feed.lines, **slow.lines, **sftp_lines}
            deadline = time.monotonic() + catch_up
            final_sync = time.time()
            launch_sync(platform)
            synced = wait_for_sync(platform, final_sync, catch_up)
            while time.monotonic() < deadline and not (
                settled(platform, written, began)
                and orders_rebuilt(platform, final_sync)
                and not runs_in_flight(platform, began)
            ):
                time.sleep(10)
            diffs = compare_raw(platform, lines, feed.duplicate_of)
            if feed.proc.poll() != 0:  # files it never wrote would be missing from the truth too
                diffs.append(f"the live simulator ended with {feed.proc.poll()}")
            diffs += sftp.problems() if sftp else []
            if not synced:
                diffs.append("no ERP sync succeeded after the edits stopped")
            elif not orders_rebuilt(platform, final_sync):
                diffs.append(f"{ORDER_MART} not rebuilt after the last ERP sync")
            diffs += compare_orders(platform, edits.deleted_lines)
            delivered = feed_truths(platform, set(feed.written), count, main_ids)
            delivered += sftp.truths.values() if sftp else []
            diffs += compare_marts(platform, [*delivered, *slow.truths.values()])
            lags = file_lags(platform, written, began)
            with platform.instance() as instance:
                runs = run_timeline(instance, began)
                retried = sum(1 for r in runs if instance.get_run_by_id(r.run_id).parent_run_id)
            p50, p95, _ = percentiles([x.to_mart for x in lags if x.to_mart is not None])
            quiet = untouched(lags, fault_spans, set(slow.written))
            quiet_p50, quiet_p95, _ = percentiles([x.to_mart for x in quiet])
            return SoakReport(
                minutes=(time.time() - began) / 60,
                files=len(written),
                sftp_files=len(sftp_written),
                lines=sum(lines.values()),
                faults=faults,
                kinds=sorted(kinds),
                runs=len(runs),
                failed=sum(r.status == "FAILURE" for r in runs),
                retried=retried,
                unfinished=sum(r.end is None for r in runs),
                order_actions=edits.actions,
                differences=diffs,
                p50=p50,
                p95=p95,
                quiet_files=len(quiet),
                quiet_p50=quiet_p50,
                quiet_p95=quiet_p95,
                not_in_marts=sum(x.mart is None for x in lags),
                load=load_average(),
            )
        finally:
            proxy.stop()
            if sftp is not None:
                sftp.close()
            if ftp is not None:
                ftp.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--interval", type=float, default=3, help="seconds between files (3)")
    parser.add_argument("--fault-every", type=float, default=40, help="mean seconds (40)")
    parser.add_argument("--sync-every", type=float, default=60, help="ERP syncs, seconds (60)")
    parser.add_argument("--catch-up", type=float, default=600, help="max seconds (600)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--drop", choices=["ftp", "local"], default="ftp", help="(vsftpd)")
    parser.add_argument(
        "--sftp-machines",
        type=int,
        default=2,
        help="the plant's last N machines upload through sshd (2; 0: none; --drop ftp only)",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    report = soak(
        minutes=args.minutes,
        interval=args.interval,
        fault_every=args.fault_every,
        sync_every=args.sync_every,
        catch_up=args.catch_up,
        seed=args.seed,
        drop=args.drop,
        sftp_machines=args.sftp_machines,
        keep=args.keep,
        log=lambda line: print(line, flush=True),
    )
    print("\n" + report.table())
    return 0 if not report.differences and not report.not_in_marts else 1


if __name__ == "__main__":
    sys.exit(main())
