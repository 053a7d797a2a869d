"""Late and re-versioned files: every incremental model equals a full refresh, model by model.

Machines upload out of order: one offline for a day sends its backlog later, a corrected file is
uploaded again (DESIGN.md section 4: a path has one current version). Every incremental model
must then hold what a full rebuild of the same raw data holds (the soak of issue 11 found
``int_changeovers`` keeping a changeover a late file had split). The simulator writes three days
of three machines (one of each type); each day-2 file is cut in two files (the machine's upload
split): a morning file just after its first ALARM line (the DOWN it explains and its ALARM_CLEAR
come in the second half), an afternoon file at its middle line. They are loaded in three batches
with an incremental ``dbt run`` after each:

1. days 1 and 3 and the second halves of day 2: the first halves are a hole in every machine's
   timeline;
2. the first halves, late inside known history: they split states and stops, merge or split
   order blocks (int_changeovers), hold the raise of alarms already cleared (int_machine_alarms)
   and explaining DOWNs already loaded (int_machine_downtime), the start of cycles already ended
   (int_machine_cycles), the SETUP -> RUNNING transitions of startup rejects and the badge reads
   the second halves' cycles belong to (int_production_counts_shift, int_machine_state_segments);
3. new versions of a day-1 file and of a first half with their last lines cut off, and of a
   day-3 file with its header alone: the earlier versions are superseded, and what other files'
   rows derived from them must follow.

Then each relation of the intermediate and marts schemas is compared with a full refresh of the
same raw data (``batch_file_id``, the file a row was last rebuilt by, legitimately differs).

Both schedules of dbt runs are played (one module fixture each):

- ``whole runs``: a full ``dbt run`` after each batch;
- ``partial runs``: runs that leave the bookkeeping model ``int_file_event_bounds`` behind the
  files the others could read: a selection without it after the late halves (a user's
  ``--select``, a retry of the failed models only), the new versions loaded after it was built in
  the same run (a file loaded or superseded while dbt runs), a full refresh of two models while it
  still lags; a whole run at the end. No log model may read past the bounds model
  (``test_no_log_model_reads_past_the_bounds_model``), and the end state is the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
from tests.fixtures.dbt_data.full_refresh import SCHEMAS, differences, snapshot
from tests.fixtures.dbt_data.runner import PROJECT_DIR, dbt

# four to seven dbt runs and a full refresh per module fixture, charged to its first test
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

MACHINES = ["CU-01", "SC-01", "AS-01"]
# every model of the log branch of the graph, known at collection time: one test each
MODELS = sorted(
    p.stem for schema in SCHEMAS for p in (PROJECT_DIR / "models" / schema).glob("*.sql")
)


def cut_last_lines(path: Path, n: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-n]))


def split_in_two(path: Path) -> tuple[Path, Path]:
    """The file as two uploads: the header and the events up to the cut, then the header and the
    rest, under a name one second later (DESIGN.md section 4 names)."""
    header, *events = path.read_bytes().splitlines(keepends=True)
    alarms = [i for i, line in enumerate(events) if b";ALARM;" in line]
    half = alarms[0] + 1 if path.stem.endswith("_060000") and alarms else len(events) // 2
    machine, day, hms = path.stem.split("_")
    second = path.with_name(f"{machine}_{day}_{int(hms) + 1:06d}.log")
    second.write_bytes(header + b"".join(events[half:]))
    path.write_bytes(header + b"".join(events[:half]))
    return path, second


# the models the late-file check guards that read raw events themselves (the others read these)
READS_RAW = (
    "int_machine_state_intervals",
    "int_machine_cycles",
    "int_machine_alarms",
    "int_operator_badges",
    "int_production_counts",
    "int_production_counts_shift",
)
# a selection that leaves out the bounds model (issue 11's review)
WITHOUT_BOUNDS = (
    "int_machine_state_intervals",
    "int_machine_cycles",
    "int_changeovers",
    "int_machine_alarms",
)


def past_bounds(conn) -> dict[str, int]:
    """{model: its newest batch_file_id} of the log models that read past the bounds model."""
    read_to = conn.execute("select max(file_id) from intermediate.int_file_event_bounds").fetchone()
    newest = {
        model: conn.execute(f'select max(batch_file_id) from intermediate."{model}"').fetchone()[0]
        for model in READS_RAW
    }
    return {m: n for m, n in newest.items() if n is not None and n > (read_to[0] or 0)}


@pytest.fixture(scope="module", params=["whole runs", "partial runs"])
def incremental_and_full(request, tmp_path_factory):
    """(incremental snapshot, full-refresh snapshot, {step: models read past the bounds})."""
    partial = request.param == "partial runs"
    tmp = tmp_path_factory.mktemp("dbt_late")
    pg = create_pg_database("shutter_late")
    mysql = create_mysql_database("shutter_late")
    target = tmp / "target"
    overreads: dict[str, dict[str, int]] = {}

    def check(step: str) -> None:
        with pg.connect(autocommit=True) as conn:
            overreads[step] = past_bounds(conn)

    try:
        logs = tmp / "logs"
        truth = write_logs(logs, seed=5, days=3, machines=MACHINES)
        by_day = sorted({f.path.split("_")[1] for f in truth.files})
        assert len(by_day) == 3, by_day
        day = {d: sorted(logs.glob(f"*_{d}_*.log")) for d in by_day}
        first_halves, second_halves = zip(*map(split_in_two, day[by_day[1]]), strict=True)
        dbt(pg, target, "seed")
        load_orders(mysql, seed=5)  # the simulated plant's order book, its cycles' orders
        sync_tables(mysql, pg)
        load.ingest_logs(pg, day[by_day[0]] + day[by_day[2]] + list(second_halves), tmp / "drop")
        dbt(pg, target, "run")
        load.ingest_logs(pg, list(first_halves), tmp / "drop")
        if partial:
            dbt(pg, target, "run", "--select", *WITHOUT_BOUNDS)
            check("selection without the bounds model")
            dbt(pg, target, "run", "--select", "int_file_event_bounds")
        else:
            dbt(pg, target, "run")
        changed = [day[by_day[0]][0], first_halves[-1], day[by_day[2]][0]]
        for f in changed[:2]:
            cut_last_lines(f, 15)
        emptied = changed[2]  # a version with no event left: its machine's history still changes
        emptied.write_bytes(emptied.read_bytes().splitlines(keepends=True)[0])
        load.ingest_logs(pg, changed, tmp / "drop")
        if partial:
            dbt(pg, target, "run", "--exclude", "int_file_event_bounds")
            check("new versions loaded after the bounds model was built")
            dbt(pg, target, "run", "--full-refresh", "--select", *WITHOUT_BOUNDS[:3])
            check("full refresh of models while the bounds model lags")
        dbt(pg, target, "run")
        check("whole run at the end")
        with pg.connect(autocommit=True) as conn:
            superseded = conn.execute(
                "select count(*) from raw.ingested_files where status = 'superseded'"
            ).fetchone()[0]
            assert superseded == len(changed)
            incremental = snapshot(conn)
            dbt(pg, target, "run", "--full-refresh")
            full = snapshot(conn)
        yield incremental, full, overreads
    finally:
        drop_pg_database(pg)
        drop_mysql_database(mysql)
        shutil.rmtree(tmp, ignore_errors=True)


def test_no_log_model_reads_past_the_bounds_model(incremental_and_full):
    _, _, overreads = incremental_and_full
    assert all(not models for models in overreads.values()), overreads


@pytest.mark.parametrize("model", MODELS)
def test_incremental_model_equals_its_full_refresh_after_late_and_new_versions(
    incremental_and_full, model
):
    incremental, full, _ = incremental_and_full
    assert full[model], f"{model} is empty: the scenario does not exercise it"
    diff = differences({model: incremental[model]}, {model: full[model]})
    extra, missing = diff.get(model, ([], []))
    assert not extra and not missing, (
        f"{model}: {len(extra)} row(s) only in the incremental build, e.g. {extra[:3]}; "
        f"{len(missing)} only in the full refresh, e.g. {missing[:3]}"
    )
