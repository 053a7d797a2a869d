"""Field-proof ingestion (issue 10, machine logs): inputs real drops produce, on real PostgreSQL.

Each test gives the smallest input of one kind of fault and asserts the exact rows it must leave.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shutter_assets.lib.drop import RemoteFile, open_drop
from shutter_assets.lib.log_format import NUL_SHOWN_AS, TRUNCATED
from shutter_assets.lib.log_registry import already_ingested
from tests.fixtures.machine_logs import HEAD, TZ, counts, ingest

NAME = "CU-01_20261120_060000.log"

EVENT_COLUMNS = (
    "line_no, machine_id, event_type, event_local_ts::text, event_at, order_ref, program, "
    "value_text, value_num, message"
)


def events_of(pg, path: str) -> list[tuple]:
    with pg.connect() as conn:
        return conn.execute(
            f"select {EVENT_COLUMNS} from raw.machine_events join raw.ingested_files "
            "using (file_id) where path = %s and status = 'loaded' order by line_no",
            (path,),
        ).fetchall()


def rejects_of(pg, path: str) -> list[tuple]:
    with pg.connect() as conn:
        return conn.execute(
            "select line_no, raw_line, reason from raw.machine_event_rejects "
            "join raw.ingested_files using (file_id) where path = %s and status = 'loaded' "
            "order by line_no",
            (path,),
        ).fetchall()


def registry(pg) -> list[tuple]:
    with pg.connect() as conn:
        return conn.execute(
            "select path, status, encoding, line_count, event_count, reject_count, error "
            "from raw.ingested_files order by path, file_id"
        ).fetchall()


# -- 1. text PostgreSQL cannot store ---------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_a_nul_byte_makes_its_line_a_visible_reject_and_the_rest_loads(
    encoding, pg_settings, make_drop
):
    lines = [
        HEAD,
        "2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;",
        "2026-11-20 06:00:05;CU-01;CYCLE_START;CMD-2026-000123;LAME-ALU-39;;",
        "2026-11-20 06:01:17;CU-01;ALARM;;;E1042;Défaut\x00broche",
        "2026-11-20 06:01:20;CU-01;CYCLE_END;CMD-2026-000123;LAME-ALU-39;4;",
    ]
    drop = make_drop("local")
    drop.put(NAME, ("\r\n".join(lines) + "\r\n").encode(encoding))
    report = ingest(pg_settings, drop.settings())
    assert [(f.status, f.rows, f.rejects) for f in report.files] == [("loaded", 3, 1)]
    shown = lines[3].replace("\x00", NUL_SHOWN_AS)
    assert rejects_of(pg_settings, NAME) == [
        (
            4,
            shown,
            f"NUL byte (0x00) at character {lines[3].index(chr(0)) + 1}: PostgreSQL text "
            f"cannot hold it; the raw text shows it as {NUL_SHOWN_AS}",
        )
    ]
    assert [(r[0], r[2], r[9]) for r in events_of(pg_settings, NAME)] == [
        (2, "STATE", None),
        (3, "CYCLE_START", None),
        (5, "CYCLE_END", None),
    ]


@pytest.mark.integration
def test_nul_bytes_in_a_header_or_a_name_never_reach_postgresql(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put(NAME, (HEAD + "\n").encode("utf-16-le"))  # UTF-16 saved without its BOM
    report = ingest(pg_settings, drop.settings())
    assert report.files[0].status == "rejected"
    ((path, status, _, _, _, _, error),) = registry(pg_settings)
    assert (path, status) == (NAME, "rejected")
    assert "holds NUL bytes: UTF-16 saved without a byte-order mark" in error
    assert "\x00" not in error
    now = datetime.now(UTC)
    listing = [RemoteFile("CU-01_\x00.log", 1, now), RemoteFile(NAME, 0, now)]
    with pg_settings.connect() as conn:
        assert already_ingested(conn, listing) == set()  # no NUL sent; other version of NAME


# -- 2. whole-file decoding ------------------------------------------------------------------------

TWIN = [
    HEAD,
    "2026-11-20 06:00:03;CU-01;STATE;;;RUNNING;",
    "2026-11-20 06:00:05;CU-01;CYCLE_START;CMD-2026-000123;LAME-ALU-39;;",
    "2026-11-20 06:01:17,250;CU-01;CYCLE_END;CMD-2026-000123;LAME-ALU-39;4,5;",
    '2026-11-20 06:01:20;CU-01;SCRAP;CMD-2026-000123;LAME-ALU-39;1;"Bavure; reprise impossible"',
    "2026-11-20 06:02:00;CU-01;ALARM;;;E1042;Défaut broche €",
    "2026-11-20 06:02:00;CU-01;PAUSE;;;;",
    "",
    "2026-11-20 06:09:41;CU-01;STATE;;;RUNNING;",
    "2026-11-20 06:09:45;CU-01;STA",
]


def twin_bytes(encoding: str, newline: str) -> bytes:
    text = newline.join(TWIN)  # the last line is cut: no newline at the end
    if encoding.startswith("utf-16"):
        bom = b"\xff\xfe" if encoding == "utf-16-le" else b"\xfe\xff"
        return bom + text.encode(encoding)
    return text.encode(encoding)


VARIANTS = [
    ("utf-8", "\n", "utf-8"),
    ("utf-8", "\r\n", "utf-8"),
    ("utf-8", "\r", "utf-8"),
    ("cp1252", "\r", "windows-1252"),
    ("utf-16-le", "\r\n", "utf-16-le"),
    ("utf-16-be", "\n", "utf-16-be"),
    ("utf-16-le", "\r", "utf-16-le"),
]


@pytest.mark.integration
def test_utf16_and_every_line_ending_load_exactly_like_the_utf8_twin(pg_settings, make_drop):
    drop = make_drop("local")
    names = []
    for i, (encoding, newline, _) in enumerate(VARIANTS):
        names.append(f"CU-01/CU-01_20261120_06000{i}.log")
        drop.put(names[-1], twin_bytes(encoding, newline))
    report = ingest(pg_settings, drop.settings())
    assert [(f.status, f.rows, f.rejects, f.lines) for f in report.files] == [
        ("loaded", 6, 3, 10)
    ] * len(VARIANTS)
    assert [r[2] for r in registry(pg_settings)] == [v[2] for v in VARIANTS]
    twin_events = events_of(pg_settings, names[0])
    assert [(e[0], e[2], e[8], e[9]) for e in twin_events] == [
        (2, "STATE", None, None),
        (3, "CYCLE_START", None, None),
        (4, "CYCLE_END", pytest.approx(4.5), None),
        (5, "SCRAP", 1, "Bavure; reprise impossible"),
        (6, "ALARM", None, "Défaut broche €"),
        (9, "STATE", None, None),
    ]
    assert rejects_of(pg_settings, names[0]) == [
        (7, TWIN[6], "unknown event type 'PAUSE'"),
        (8, "", "empty line"),
        (10, TWIN[9], TRUNCATED),
    ]
    for name in names[1:]:
        assert events_of(pg_settings, name) == twin_events, name
        assert rejects_of(pg_settings, name) == rejects_of(pg_settings, names[0]), name


UNREADABLE = [
    (
        "CU-01_20261120_070000.log",
        b"\xff\xfe" + (HEAD + "\n").encode("utf-16-le") + b"\x00\xdc\n\x00",
        "not valid UTF-16-LE although it starts with that byte-order mark (illegal encoding: "
        f"bytes 00 dc at offset {2 + len((HEAD + chr(10)).encode('utf-16-le'))}, an unpaired "
        "surrogate)",
    ),
    (
        "CU-01_20261120_080000.log",
        (HEAD + "\r\n").encode("utf-16-be"),
        "holds NUL bytes: UTF-16 saved without a byte-order mark, or not a text file",
    ),
    (
        "CU-01_20261120_090000.log",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "(got '\u2030PNG')",
    ),
    ("CU-01_20261120_100000.log", b'"timestamp;machine_id\n', "got '\"timestamp;machine_id'"),
    ("CU-01_20261120_110000.log", b"\xfe\xff", "the file is empty (no header line)"),
]


@pytest.mark.integration
def test_an_unreadable_file_is_rejected_once_with_its_reason_until_its_content_changes(
    pg_settings, make_drop
):
    drop = make_drop("local")
    for name, data, _ in UNREADABLE:
        drop.put(name, data, mtime=1_763_600_000)
    first = ingest(pg_settings, drop.settings())
    assert [f.status for f in first.files] == ["rejected"] * len(UNREADABLE)
    rows = registry(pg_settings)
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        (name, "rejected", 0, 0) for name, _, _ in UNREADABLE
    ]
    for (name, _, reason), row in zip(UNREADABLE, rows, strict=True):
        assert reason in row[6], (name, row[6])
        assert row[6].startswith(f"{name}: ")
    assert counts(pg_settings) == (len(UNREADABLE), 0, 0)

    again = ingest(pg_settings, drop.settings(), run_id="r2")
    assert [f.status for f in again.files] == ["skipped"] * len(UNREADABLE)
    with open_drop(drop.settings()) as d, pg_settings.connect() as conn:
        listing = d.list_files()
        assert already_ingested(conn, listing) == {name for name, _, _ in UNREADABLE}
        drop.put(UNREADABLE[0][0], twin_bytes("utf-16-le", "\r\n"), mtime=1_763_600_100)
        assert already_ingested(conn, d.list_files()) == {name for name, _, _ in UNREADABLE[1:]}


# -- 3. a file that changes after it was loaded ----------------------------------------------------

RESUMED = [
    HEAD,
    "2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;",
    "2026-11-20 06:00:05;CU-01;CYCLE_START;CMD-2026-000123;LAME-ALU-39;;",
    "2026-11-20 06:01:00;CU-01;CYCLE_END;CMD-2026-000123;LAME-ALU-39;4;",
    "2026-11-20 06:01:05;CU-01;CYCLE_START;CMD-2026-000123;LAME-ALU-39;;",
    "2026-11-20 06:02:00;CU-01;CYCLE_END;CMD-2026-000123;LAME-ALU-39;4;",
    "2026-11-20 06:02:05;CU-01;CYCLE_START;CMD-2026-000123;LAME-ALU-39;;",
    "2026-11-20 06:03:00;CU-01;CYCLE_END;CMD-2026-000123;LAME-ALU-39;4;",
    "2026-11-20 06:03:10;CU-01;STATE;;;IDLE;",
]
STALLED = "\n".join(RESUMED[:6]) + "\n2026-11-20 06:02:05;CU-01;CYCLE_ST"  # cut mid-word
COMPLETE = "\n".join(RESUMED) + "\n"
OTHER = "CU-02_20261120_060000.log"
OTHER_LINES = [
    HEAD,
    "2026-11-20 06:00:00;CU-02;STATE;;;RUNNING;",
    "2026-11-20 06:00:05;CU-02;CYCLE_START;;LAME-ALU-39;;",
    "2026-11-20 06:01:00;CU-02;CYCLE_END;;LAME-ALU-39;3;",
    "2026-11-20 06:04:00;CU-02;STATE;;;IDLE;",
]


def dbt_counts(conn) -> dict:
    """What the marts and intermediate models count, per machine."""
    return {
        "oee_produced": dict(
            conn.execute(
                "select machine_id, sum(produced_qty)::int from marts.machine_oee_daily group by 1"
            ).fetchall()
        ),
        "run_s": dict(
            conn.execute(
                "select machine_id, sum(run_s)::int from marts.machine_oee_daily group by 1"
            ).fetchall()
        ),
        "throughput": conn.execute(
            "select sum(produced_qty)::int, sum(cycle_count)::int from marts.daily_throughput"
        ).fetchone(),
        "cycles": conn.execute(
            "select machine_id, cycle_status, produced_qty::int "
            "from intermediate.int_machine_cycles order by machine_id, started_at"
        ).fetchall(),
        "states": conn.execute(
            "select machine_id, state, started_at, ended_at, is_open "
            "from intermediate.int_machine_state_intervals order by machine_id, started_at"
        ).fetchall(),
    }


def intermediate_file_ids(conn) -> set[int]:
    ids: set[int] = set()
    for model in (
        "int_machine_state_intervals",
        "int_machine_state_daily",
        "int_machine_cycles",
        "int_machine_alarms",
        "int_machine_downtime",
        "int_production_counts",
    ):
        ids |= {r[0] for r in conn.execute(f"select distinct file_id from intermediate.{model}")}
    return ids


@pytest.mark.integration
def test_a_resumed_upload_replaces_its_earlier_version_everywhere(pg_settings, make_drop, tmp_path):
    from shutter_assets.lib.log_ingest import reprocess_file
    from tests.fixtures.dbt_data.runner import dbt

    target = tmp_path / "target"
    select = ["-s", "+machine_oee_daily", "+daily_throughput", "int_machine_cycles"]
    select += ["+int_machine_downtime"]
    drop = make_drop("local")
    drop.put(NAME, STALLED.encode(), mtime=1_763_618_530)  # stalled after 2 of 3 cycles
    drop.put(OTHER, ("\n".join(OTHER_LINES) + "\n").encode(), mtime=1_763_618_530)
    first = ingest(pg_settings, drop.settings())
    assert [(f.path, f.status, f.rows, f.rejects) for f in first.files] == [
        (NAME, "loaded", 5, 1),
        (OTHER, "loaded", 4, 0),
    ]
    dbt(pg_settings, target, "seed")
    dbt(pg_settings, target, "run", *select)
    with pg_settings.connect() as conn:
        assert dbt_counts(conn)["oee_produced"] == {"CU-01": 8, "CU-02": 3}

    drop.put(NAME, COMPLETE.encode(), mtime=1_763_618_900)  # the upload resumed and completed
    second = ingest(pg_settings, drop.settings(), run_id="r2")
    assert [(f.path, f.status, f.rows, f.rejects, f.replaced) for f in second.files] == [
        (NAME, "loaded", 8, 0, 1),
        (OTHER, "skipped", 0, 0, 0),
    ]
    v1, v2, other = first.files[0].file_id, second.files[0].file_id, first.files[1].file_id
    with pg_settings.connect() as conn:
        assert conn.execute(
            "select file_id, path, status, superseded_by, event_count, reject_count, "
            "superseded_at is not null from raw.ingested_files order by file_id"
        ).fetchall() == [
            (v1, NAME, "superseded", v2, 5, 1, True),
            (other, OTHER, "loaded", None, 4, 0, False),
            (v2, NAME, "loaded", None, 8, 0, False),
        ]
        assert conn.execute(
            "select file_id, count(*) from raw.machine_events group by 1 order by 1"
        ).fetchall() == [(other, 4), (v2, 8)]
        assert conn.execute("select count(*) from raw.machine_event_rejects").fetchone() == (0,)
        assert conn.execute(
            "select count(*), sum(value_num)::int from staging.stg_raw__machine_events "
            "where machine_id = 'CU-01'"
        ).fetchone() == (8, 12)

    dbt(pg_settings, target, "run", *select)  # incremental
    with pg_settings.connect() as conn:
        incremental = dbt_counts(conn)
        assert intermediate_file_ids(conn) == {v2, other}
    assert incremental["oee_produced"] == {"CU-01": 12, "CU-02": 3}
    assert incremental["run_s"] == {"CU-01": 190, "CU-02": 240}
    assert incremental["throughput"] == (15, 4)
    assert [c for c in incremental["cycles"] if c[0] == "CU-01"] == [("CU-01", "completed", 4)] * 3

    with open_drop(drop.settings()) as d:  # reprocess_log_file: one more version, same truth
        again = reprocess_file(pg_settings, d, NAME, plant_tz=TZ, run_id="r3")
    assert (again.status, again.rows, again.replaced) == ("loaded", 8, 1)
    dbt(pg_settings, target, "run", *select)
    with pg_settings.connect() as conn:
        assert dbt_counts(conn) == incremental
        assert intermediate_file_ids(conn) == {again.file_id, other}
        assert conn.execute(
            "select status, count(*) from raw.ingested_files group by 1 order by 1"
        ).fetchall() == [("loaded", 2), ("superseded", 2)]
    dbt(pg_settings, target, "run", "--full-refresh", *select)
    with pg_settings.connect() as conn:
        assert dbt_counts(conn) == incremental


@pytest.mark.integration
def test_the_materialization_says_how_many_earlier_versions_were_replaced(pg_settings, make_drop):
    import dagster as dg

    from shutter_assets.defs.machine_logs.assets import INGEST_OP, ingest_machine_logs
    from shutter_assets.defs.machine_logs.checks import files_failing
    from tests.fixtures.machine_logs import dagster_resources

    drop = make_drop("local")
    res = dagster_resources(pg_settings, drop.settings())
    config = {"ops": {INGEST_OP: {"config": {"paths": [NAME]}}}}

    def materialize() -> dict:
        result = dg.materialize(
            [ingest_machine_logs, files_failing], resources=res, run_config=config
        )
        assert result.success
        # no sensor state on this ephemeral instance: nothing is failing
        assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
        meta = {
            m.asset_key.to_user_string(): m.metadata
            for m in result.asset_materializations_for_node(INGEST_OP)
        }["raw/machine_events"]
        return {k: meta[k].value for k in ("files_loaded", "rows", "versions_replaced")}

    drop.put(NAME, STALLED.encode(), mtime=1_763_618_530)
    assert materialize() == {"files_loaded": 1, "rows": 5, "versions_replaced": 0}
    drop.put(NAME, COMPLETE.encode(), mtime=1_763_618_900)
    assert materialize() == {"files_loaded": 1, "rows": 8, "versions_replaced": 1}
