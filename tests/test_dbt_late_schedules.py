"""Schedules of loads and dbt runs that the late-file handling (macros/late_files.sql) must
survive: after each, a final whole ``dbt run`` equals ``dbt run --full-refresh``.

Found by review of issue 11's fix: new versions that leave no event (header alone, rejected,
duplicate) loaded last, and a full refresh of the bookkeeping model alone while a new version
waits, left models wrong (``int_file_event_bounds`` now records event-less files and keeps
superseded spans across its own full refresh). The others are shapes the claim must also hold
for: a file holding two machines, a tie at the end of known history, a new version loaded while
dbt runs, random schedules; and the second review's schedules that passed on the fixed code (a
model selected alone again and again, a parent fully refreshed alone, a whole full refresh
between late files, the progress table emptied by hand).

Each test plays one schedule on its own warehouse (two days of three simulated machines), ends
with a whole ``dbt run``, then compares every relation of the intermediate and marts schemas
with a full refresh of the same raw data (as tests/test_dbt_late_files.py does: multisets of rows,
``batch_file_id`` and machine_status's now-dependent columns ignored, int_file_event_bounds
restricted to loaded files).
"""

from __future__ import annotations

import random
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shutter_assets.lib.drop import DropSettings, open_drop
from shutter_assets.lib.log_ingest import ensure_raw_schema, ingest_files
from shutter_assets.lib.mysql_sync import sync_tables
from shutter_assets.simulator.logs import write_logs
from shutter_assets.simulator.orders import load_orders
from tests.fixtures.databases import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.fixtures.dbt_data import load
from tests.fixtures.dbt_data.full_refresh import differences, snapshot
from tests.fixtures.dbt_data.load import PLANT_TZ
from tests.fixtures.dbt_data.runner import dbt

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MACHINES = ["CU-01", "SC-01", "AS-01"]


class Plant:
    """One warehouse, the simulator's log files, helpers to load and run dbt."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pg = create_pg_database("shutter_late_review")
        self.mysql = create_mysql_database("shutter_late_review")
        self.target = tmp / "target"
        self.drop_dir = tmp / "drop"
        self.logs = tmp / "logs"
        self.extra = tmp / "extra"  # hand-made files, out of the simulator's folder
        self.extra.mkdir()
        write_logs(self.logs, seed=5, days=2, machines=MACHINES)
        self.days = sorted({p.stem.split("_")[1] for p in self.logs.glob("*.log")})
        dbt(self.pg, self.target, "seed")
        load_orders(self.mysql, seed=5)
        sync_tables(self.mysql, self.pg)

    def files(self, day: int, machine: str | None = None) -> list[Path]:
        pattern = f"{machine or '*'}_{self.days[day]}_*.log"
        return sorted(self.logs.glob(pattern))

    def load(self, files: list[Path]) -> None:
        load.ingest_logs(self.pg, files, self.drop_dir)

    def load_any(self, files: list[Path]) -> list[str]:
        """Load without asserting every file is 'loaded' (duplicates, rejects): their statuses."""
        self.drop_dir.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, self.drop_dir / f.name)
        with self.pg.connect(autocommit=True) as conn:
            ensure_raw_schema(conn)
        names = [f.name for f in files]
        with open_drop(DropSettings(protocol="local", remote_dir=str(self.drop_dir))) as drop:
            listed = {Path(rf.path).name: rf for rf in drop.list_files()}
            report = ingest_files(
                self.pg,
                drop,
                [listed[n] for n in names],
                plant_tz=PLANT_TZ,
                run_id=f"test-{uuid.uuid4().hex[:8]}",
            )
        return [f.status for f in report.files]

    def dbt(self, *args: str) -> dict[str, str]:
        return dbt(self.pg, self.target, *args)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.pg.connect(autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def differences(self) -> dict[str, tuple[list, list]]:
        """Final whole run already done: {relation: (rows only incremental, rows only full)}."""
        with self.pg.connect(autocommit=True) as conn:
            incremental = snapshot(conn)
        self.dbt("run", "--full-refresh")
        with self.pg.connect(autocommit=True) as conn:
            return differences(incremental, snapshot(conn))

    def close(self) -> None:
        drop_pg_database(self.pg)
        drop_mysql_database(self.mysql)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def plant(tmp_path):
    p = Plant(tmp_path)
    try:
        yield p
    finally:
        p.close()


def assert_equal_to_full_refresh(plant: Plant) -> None:
    diffs = plant.differences()
    assert not diffs, "models differ from a full refresh: " + "; ".join(
        f"{m}: {len(e)} only incremental e.g. {e[:2]}, {len(x)} only full e.g. {x[:2]}"
        for m, (e, x) in diffs.items()
    )


def header_only(path: Path) -> None:
    path.write_bytes(path.read_bytes().splitlines(keepends=True)[0])


def drop_first_events(path: Path, until: bytes) -> None:
    """Keep the header; drop the events up to and including the first line containing
    ``until`` (a corrected upload that starts later)."""
    header, *events = path.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(events) if until in line) + 1
    path.write_bytes(header + b"".join(events[cut:]))


# --- scenarios --------------------------------------------------------------------------------


def test_header_only_new_version_loaded_last(plant):
    """A machine's file comes back emptied (header alone) and is the newest file loaded: the
    bounds model records no span for it, so bounds_watermark() stays below its file_id."""
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    emptied = plant.files(0, "SC-01")[0]
    header_only(emptied)
    plant.load([emptied])
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


@pytest.mark.parametrize("kind", ["rejected", "duplicate"])
def test_eventless_new_version_loaded_last(plant, kind):
    """The same as a header-only version, for the other new versions that leave no event: a file
    whose header is wrong (``rejected``) and one whose bytes equal another file's
    (``duplicate``); both supersede the path's earlier version."""
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    changed = plant.files(0, "SC-01")[0]
    if kind == "rejected":
        changed.write_bytes(
            b"not;a;log;header\n" + b"".join(changed.read_bytes().splitlines(True)[1:])
        )
    else:
        changed.write_bytes(plant.files(0, "CU-01")[0].read_bytes())
    assert plant.load_any([changed]) == [kind]
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_full_refresh_of_the_bounds_model_alone_after_a_new_version(plant):
    """A new version of a machine's newest file that starts later (its first lines cut off: not
    late by the first rule) is loaded, then ``--full-refresh -s int_file_event_bounds`` (which
    keeps only the loaded versions' spans, so the superseded version's span and machine are
    gone), then a whole run."""
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    newest = plant.files(1, "SC-01")[-1]
    drop_first_events(newest, b";CYCLE_END;")
    plant.load([newest])
    plant.dbt("run", "--full-refresh", "--select", "int_file_event_bounds")
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


@pytest.mark.parametrize(
    "selection",
    [
        # int_machine_downtime reads int_machine_alarms, left behind
        ("int_file_event_bounds", "int_machine_state_intervals", "int_machine_downtime"),
        # int_production_counts_shift reads int_machine_state_intervals and int_operator_badges
        ("int_file_event_bounds", "int_production_counts_shift"),
        # int_changeovers reads int_machine_state_segments, left behind
        ("int_file_event_bounds", "int_machine_cycles", "int_changeovers"),
    ],
    ids=[
        "downtime without alarms",
        "counts_shift without intervals",
        "changeovers without segments",
    ],
)
def test_selection_of_a_model_without_one_of_its_parents(plant, selection):
    """A user's ``--select`` of log models leaving out an incremental parent of one of them:
    that model reads nothing new (its parent is behind) and catches up in the whole run."""
    plant.load(plant.files(0))
    plant.dbt("run")
    plant.load(plant.files(1))
    before = plant.query(f"select count(*) from intermediate.{selection[-1]}")
    plant.dbt("run", "--select", *selection)
    assert plant.query(f"select count(*) from intermediate.{selection[-1]}") == before
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_full_refresh_of_a_model_while_one_of_its_parents_lags_is_refused(plant):
    """``--full-refresh -s int_machine_downtime`` after a run that left int_machine_alarms behind
    the new files: refused with the command to run instead, the table untouched; then a whole
    run."""
    plant.load(plant.files(0))
    plant.dbt("run")
    plant.load(plant.files(1))
    plant.dbt("run", "--select", "int_file_event_bounds", "int_machine_state_intervals")
    before = plant.query("select count(*) from intermediate.int_machine_downtime")
    with pytest.raises(
        AssertionError, match=r"int_machine_alarms.*--select \+int_machine_downtime"
    ):
        plant.dbt("run", "--full-refresh", "--select", "int_machine_downtime")
    assert plant.query("select count(*) from intermediate.int_machine_downtime") == before
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_a_retry_of_the_failed_models_only_catches_up(plant):
    """A dbt run in which one model failed, then a run of that model and its descendants only
    (what Dagster's retry from failure selects): its parents read as far as the bounds model in
    the first run, so the retry reads the new files, nothing waits for a later run."""
    plant.load(plant.files(0))
    plant.dbt("run")
    plant.load(plant.files(1))
    plant.dbt("run", "--exclude", "int_machine_downtime+")  # int_machine_downtime "failed"
    plant.dbt("run", "--select", "int_machine_downtime+")
    assert plant.query("select count(*) from intermediate.int_machine_downtime") != [(0,)]
    assert_equal_to_full_refresh(plant)  # no whole run in between


def test_alarm_raised_after_a_short_down_in_a_later_file(plant):
    """A DOWN of 10 s then RUNNING ends a file; the next file (not late: it starts after them)
    raises an alarm 30 s after the DOWN began, which explains the DOWN (int_machine_downtime: the
    latest alarm raised at most 60 s after it began). Found by the second review: the incremental
    build did not revisit that DOWN."""
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    header, *events = plant.files(1, "CU-01")[-1].read_bytes().splitlines(keepends=True)
    last = max(datetime.strptime(e.split(b";")[0].decode(), "%Y-%m-%d %H:%M:%S") for e in events)

    def at(seconds: int) -> bytes:
        return (last + timedelta(seconds=60 + seconds)).strftime("%Y-%m-%d %H:%M:%S").encode()

    down = plant.extra / f"CU-01_{plant.days[1]}_235950.log"
    down.write_bytes(
        header + at(0) + b";CU-01;STATE;;;DOWN;\n" + at(10) + b";CU-01;STATE;;;RUNNING;\n"
    )
    alarm = plant.extra / f"CU-01_{plant.days[1]}_235959.log"
    alarm.write_bytes(header + at(30) + b";CU-01;ALARM;;;E4150;Porte\n")
    plant.load([down])
    plant.dbt("run")
    plant.load([alarm])
    plant.dbt("run")
    assert plant.query(
        "select alarm_code from intermediate.int_machine_downtime "
        "where machine_id = 'CU-01' order by started_at desc limit 1"
    ) == [("E4150",)]
    assert_equal_to_full_refresh(plant)


def test_several_late_files_in_one_batch_and_a_new_machine_with_old_files(plant):
    """Day 2 of two machines first; then day 1 of all three in one upload: two machines get
    several late files at once, the third appears for the first time with older files."""
    plant.load(plant.files(1, "CU-01") + plant.files(1, "SC-01"))
    plant.dbt("run")
    plant.load(plant.files(0) + plant.files(1, "AS-01"))
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_late_file_holding_two_machines(plant):
    """One upload file holds the events of two machines (a line concentrator's export), loaded
    after both machines' later files: late for both."""
    cu, sc = plant.files(0, "CU-01")[0], plant.files(0, "SC-01")[0]
    header, *cu_events = cu.read_bytes().splitlines(keepends=True)
    sc_events = sc.read_bytes().splitlines(keepends=True)[1:]
    # a name without a machine prefix: the parser takes any machine_id in it
    both = plant.extra / f"export_{plant.days[0]}_060001.log"
    both.write_bytes(header + b"".join(sorted(cu_events + sc_events)))
    plant.load(plant.files(0, "AS-01") + plant.files(0, "CU-01")[1:] + plant.files(0, "SC-01")[1:])
    plant.load(plant.files(1))
    plant.dbt("run")
    plant.load([both])
    plant.dbt("run")
    assert plant.query(
        "select count(distinct machine_id) from intermediate.int_file_event_bounds "
        "where file_id = (select max(file_id) from raw.ingested_files)"
    ) == [(2,)]
    assert_equal_to_full_refresh(plant)


def test_new_file_starting_at_the_instant_the_known_history_ends(plant):
    """A new file whose first events share the instant of the machine's latest known event (not
    late: ties sort after, by file_id), with a state, a cycle end, an alarm and a scrap at that
    instant."""
    last = plant.files(1, "CU-01")[-1]
    header, *events = last.read_bytes().splitlines(keepends=True)
    stamp = max(line.split(b";")[0] for line in events)
    tie = plant.extra / f"CU-01_{plant.days[1]}_235959.log"
    tie.write_bytes(
        header
        + b"".join(
            stamp + rest
            for rest in (
                b";CU-01;STATE;;;DOWN;\n",
                b";CU-01;ALARM;;;E4150;Porte\n",
                b";CU-01;CYCLE_END;;;1;\n",
                b";CU-01;SCRAP;;LAME-ALUISO-45;1;x\n",
                b";CU-01;STATE;;;RUNNING;\n",
            )
        )
    )
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    plant.load([tie])
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_header_only_version_loaded_while_dbt_runs(plant):
    """A header-only new version loaded after the bounds model was built in a run (the rest of
    the run reads the old version's machine as it was), then a whole run."""
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    emptied = plant.files(1, "AS-01")[0]
    header_only(emptied)
    plant.dbt("run", "--select", "int_file_event_bounds")
    plant.load([emptied])
    plant.dbt("run", "--exclude", "int_file_event_bounds")
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_a_model_selected_alone_again_and_again(plant):
    """``dbt run -s int_machine_downtime`` after each upload, a new version of a read file among
    them (its parents never built): it reads nothing new each time; the whole run catches up."""
    plant.load(plant.files(0))
    plant.dbt("run")
    plant.load(plant.files(1, "CU-01"))
    plant.dbt("run", "--select", "int_machine_downtime")
    plant.load(plant.files(1, "SC-01"))
    plant.dbt("run", "--select", "int_machine_downtime")
    cut = plant.files(0, "CU-01")[0]  # a new version, its last lines cut
    cut.write_bytes(b"".join(cut.read_bytes().splitlines(keepends=True)[:-10]))
    plant.load([cut])
    plant.dbt("run", "--select", "int_machine_downtime")
    plant.load(plant.files(1, "AS-01"))
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_a_parent_fully_refreshed_alone_then_a_late_file(plant):
    """``--full-refresh -s int_machine_state_intervals`` while new files wait (its children keep
    their rows), then a late file and a run of a child alone, then a whole run."""
    held_back = plant.files(0, "SC-01")[0]
    plant.load([f for f in plant.files(0) if f != held_back])
    plant.dbt("run")
    plant.load(plant.files(1))
    plant.dbt("run", "--full-refresh", "--select", "int_machine_state_intervals")
    plant.load([held_back])
    plant.dbt("run", "--select", "int_machine_state_segments")
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_a_whole_full_refresh_between_late_files(plant):
    """A late file, a whole ``dbt run --full-refresh``, another late file, then a whole run."""
    held_back = [plant.files(0, "CU-01")[0], plant.files(0, "AS-01")[1]]
    plant.load([f for f in plant.files(0) + plant.files(1) if f not in held_back])
    plant.dbt("run")
    plant.load(held_back[:1])
    plant.dbt("run", "--full-refresh")
    plant.load(held_back[1:])
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_progress_rows_deleted_by_hand(plant):
    """``intermediate.log_model_progress`` emptied by hand between runs: every model with an
    incremental parent counts it as behind until that parent records again, which the next whole
    run does before its children run (in DAG order)."""
    plant.load(plant.files(0))
    plant.dbt("run")
    plant.query("delete from intermediate.log_model_progress returning model_name")
    plant.load(plant.files(1))
    plant.dbt("run")
    assert plant.query(
        "select count(*) from intermediate.log_model_progress where read_to = "
        "(select max(file_id) from intermediate.int_file_event_bounds)"
    ) == plant.query("select count(*) from intermediate.log_model_progress")
    assert_equal_to_full_refresh(plant)


@pytest.mark.parametrize("seed", [1])
def test_random_schedule(plant, seed):
    """Files loaded in a shuffled order, in random uploads, some coming back as new versions
    (last lines cut, or the header alone), between random dbt invocations; then a whole run."""
    rng = random.Random(seed)
    files = plant.files(0) + plant.files(1)
    rng.shuffle(files)
    commands = [
        ("run",),
        ("run", "--select", "int_file_event_bounds"),
        ("run", "--exclude", "int_file_event_bounds"),
        ("run", "--select", "int_machine_state_intervals", "int_machine_downtime"),
        ("run", "--select", "+int_changeovers"),
        ("run", "--full-refresh", "--select", "int_machine_cycles", "int_machine_alarms"),
        ("run", "--full-refresh", "--select", "int_file_event_bounds"),
        ("build", "--select", "int_file_event_bounds+"),
    ]
    loaded = [files.pop() for _ in range(3)]
    plant.load(loaded)
    plant.dbt("run")  # the project built once, as in production
    while files:
        upload = [files.pop() for _ in range(min(len(files), rng.randint(1, 4)))]
        plant.load(upload)
        loaded += upload
        plant.dbt(*rng.choice(commands))
        if rng.random() < 0.5:
            changed = rng.choice(loaded)
            lines = changed.read_bytes().splitlines(keepends=True)
            keep = 1 if rng.random() < 0.3 else max(1, len(lines) - rng.randint(5, 60))
            changed.write_bytes(b"".join(lines[:keep]))
            plant.load_any([changed])  # a header alone may duplicate another's
            plant.dbt(*rng.choice(commands))
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)
