"""Review of the late-file fix (macros/late_files.sql): schedules of loads and dbt runs that the
claim "a final whole ``dbt run`` equals ``dbt run --full-refresh``" must survive.

Each test plays one schedule on its own warehouse (two days of three simulated machines), ends
with a whole ``dbt run``, then compares every relation of the intermediate and marts schemas
with a full refresh of the same raw data (as tests/test_dbt_late_files.py does: multisets of rows,
``batch_file_id`` and machine_status's now-dependent columns ignored, int_file_event_bounds
restricted to loaded files).
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
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
from tests.fixtures.dbt_data.load import PLANT_TZ
from tests.fixtures.dbt_data.runner import dbt
from tests.test_dbt_late_files import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MACHINES = ["CU-01", "SC-01", "AS-01"]


class Plant:
    """One warehouse, the simulator's log files, helpers to load and run dbt."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pg = create_pg_database("review11_late")
        self.mysql = create_mysql_database("review11_late")
        self.target = tmp / "target"
        self.drop_dir = tmp / "drop"
        self.logs = tmp / "logs"
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
                run_id=f"review-{uuid.uuid4().hex[:8]}",
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
            full = snapshot(conn)
        out = {}
        for model in sorted(set(incremental) | set(full)):
            built, rebuilt = Counter(incremental.get(model, [])), Counter(full.get(model, []))
            extra = list((built - rebuilt).elements())
            missing = list((rebuilt - built).elements())
            if extra or missing:
                out[model] = (extra, missing)
        return out

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
        changed.write_bytes(b"not;a;log;header\n" + b"".join(changed.read_bytes().splitlines(True)[1:]))
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
    ids=["downtime without alarms", "counts_shift without intervals", "changeovers without segments"],
)
def test_selection_of_a_model_without_one_of_its_parents(plant, selection):
    """A user's ``--select`` of log models in order (the bounds model included, nothing late),
    leaving out an intermediate parent of one of them; then a whole run."""
    plant.load(plant.files(0))
    plant.dbt("run")
    plant.load(plant.files(1))
    plant.dbt("run", "--select", *selection)
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_file_superseded_twice_between_runs(plant):
    """Two new versions of a day-1 file between two runs, one of them after a bounds-only run."""
    plant.load(plant.files(0) + plant.files(1))
    plant.dbt("run")
    f = plant.files(0, "CU-01")[0]
    lines = f.read_bytes().splitlines(keepends=True)
    f.write_bytes(b"".join(lines[:-20]))
    plant.load([f])
    plant.dbt("run", "--select", "int_file_event_bounds")
    f.write_bytes(b"".join(lines[:-40]))
    plant.load([f])
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_new_version_between_bounds_only_run_and_the_rest(plant):
    """A new version loaded after a bounds-only run, and a late file with it."""
    plant.load(plant.files(0) + plant.files(1)[1:])
    plant.dbt("run")
    f = plant.files(0, "AS-01")[-1]
    f.write_bytes(b"".join(f.read_bytes().splitlines(keepends=True)[:-10]))
    plant.load([f])
    plant.dbt("run", "--select", "int_file_event_bounds")
    plant.load(plant.files(1)[:1])  # late: day 2's first file
    plant.dbt("run", "--exclude", "int_file_event_bounds")
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_several_late_files_in_one_batch_and_a_new_machine_with_old_files(plant):
    """Day 2 of two machines first; then day 1 of all three in one upload: two machines get
    several late files at once, the third appears for the first time with older files."""
    plant.load(plant.files(1, "CU-01") + plant.files(1, "SC-01"))
    plant.dbt("run")
    plant.load(plant.files(0) + plant.files(1, "AS-01"))
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_header_only_version_of_a_machines_only_file_then_a_late_file(plant):
    """A machine's only earlier file is superseded by a header-only version; then an older file
    of it arrives (late, but nothing current is known before it)."""
    plant.load(plant.files(0, "CU-01") + plant.files(1, "SC-01")[-1:] + plant.files(1, "AS-01"))
    plant.dbt("run")
    only = plant.files(1, "SC-01")[-1]
    header_only(only)
    plant.load([only])
    plant.dbt("run")
    plant.load(plant.files(0, "SC-01") + plant.files(1, "SC-01")[:-1])
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)


def test_build_with_a_late_file(plant):
    """``dbt build`` (models and their data tests interleaved) instead of ``dbt run``."""
    plant.load(plant.files(0)[:2] + plant.files(1))
    plant.dbt("build")
    plant.load(plant.files(0)[2:])
    plant.dbt("build")
    assert_equal_to_full_refresh(plant)


def test_full_refresh_of_the_bounds_model_then_incremental_runs(plant):
    """The bounds model rebuilt alone while files wait; then late files and whole runs."""
    plant.load(plant.files(0)[:3] + plant.files(1)[3:])
    plant.dbt("run")
    plant.load(plant.files(1)[:3])
    plant.dbt("run", "--full-refresh", "--select", "int_file_event_bounds")
    plant.dbt("run")
    plant.load(plant.files(0)[3:])
    plant.dbt("run")
    assert_equal_to_full_refresh(plant)
