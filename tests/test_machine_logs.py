"""Loader of machine logs on real PostgreSQL and real drops: exactly once, atomic per file."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from shutter_assets.lib.drop import RemoteFile, open_drop
from shutter_assets.lib.log_format import TRUNCATED
from shutter_assets.lib.log_ingest import (
    ensure_raw_schema,
    ingest_files,
    reprocess_file,
)
from shutter_assets.lib.log_registry import files_over_reject_rate
from shutter_assets.lib.log_selection import (
    batch_key,
    decide_tick,
    ingest_order,
    select_run_files,
)
from tests.fixtures.machine_logs import (
    HEAD,
    TZ,
    counts,
    expected_qty,
    ingest,
    log_bytes,
)


def test_clean_file_loads_once_and_a_rerun_is_harmless(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(50, extra="2026-11-20 07:00:00;CU-01;STA"))
    report = ingest(pg_settings, drop.settings())
    (res,) = report.files
    assert (res.status, res.rows, res.rejects, res.lines) == ("loaded", 50, 1, 52)
    assert (report.loaded_files, report.rows, report.rejects, report.bytes) == (
        1,
        50,
        1,
        drop.path("CU-01_20261120_060000.log").stat().st_size,
    )
    with pg_settings.connect() as conn:
        qty = conn.execute("select sum(value_num) from raw.machine_events").fetchone()[0]
        reject = conn.execute(
            "select line_no, raw_line, reason from raw.machine_event_rejects"
        ).fetchone()
        reg = conn.execute(
            "select status, size_bytes, line_count, event_count, reject_count, run_id, sha256 "
            "from raw.ingested_files"
        ).fetchone()
        first = conn.execute(
            "select event_local_ts::text, event_at at time zone 'UTC', message "
            "from raw.machine_events where line_no = 2"
        ).fetchone()
    assert qty == expected_qty(50)
    assert reject == (52, "2026-11-20 07:00:00;CU-01;STA", TRUNCATED)
    assert reg[:6] == ("loaded", res.size_bytes, 52, 50, 1, "r")
    assert len(reg[6]) == 64
    assert first[0] == "2026-11-20 06:00:00"
    assert first[1].isoformat() == "2026-11-20T05:00:00"
    assert first[2] == "Pièce 0"

    again = ingest(pg_settings, drop.settings(), run_id="r2")
    assert [f.status for f in again.files] == ["skipped"]
    assert counts(pg_settings) == (1, 50, 1)


def test_duplicate_upload_under_new_name_loads_nothing(pg_settings, make_drop):
    drop = make_drop("local")
    data = log_bytes(20)
    drop.put("CU-01_20261120_060000.log", data, mtime=1_763_600_000)
    drop.put("CU-01_20261120_060000 (1).log", data, mtime=1_763_600_000)
    with open_drop(drop.settings()) as d:
        files = sorted(d.list_files(), key=ingest_order)
        report = ingest_files(pg_settings, d, files, plant_tz=TZ, run_id="r")
    assert [(f.path, f.status) for f in report.files] == [
        ("CU-01_20261120_060000.log", "loaded"),
        ("CU-01_20261120_060000 (1).log", "duplicate"),
    ]
    assert report.files[1].duplicate_of == report.files[0].file_id
    assert (report.duplicates, report.rows) == (1, 20)
    assert counts(pg_settings) == (2, 20, 0)


def test_concurrent_runs_on_the_same_content_load_it_once(pg_settings, make_drop):
    drop = make_drop("local")
    data = log_bytes(6000)  # long enough for the two transactions to overlap
    drop.put("CU-01_20261120_060000.log", data)
    drop.put("CU-01_20261120_060000 (1).log", data)
    results = []

    def run(path: str) -> None:
        with open_drop(drop.settings()) as d:
            files = [f for f in d.list_files() if f.path == path]
            results.extend(ingest_files(pg_settings, d, files, plant_tz=TZ, run_id=path).files)

    threads = [
        threading.Thread(target=run, args=(p,))
        for p in ("CU-01_20261120_060000.log", "CU-01_20261120_060000 (1).log")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == ["duplicate", "loaded"]
    assert counts(pg_settings) == (2, 6000, 0)


def test_wrong_header_is_recorded_as_a_rejected_file(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", b"ts,machine,event\n2026-11-20 06:00:00,CU-01,X\n")
    drop.put("CU-01_20261120_140000.log", b"")
    report = ingest(pg_settings, drop.settings())
    assert [f.status for f in report.files] == ["rejected", "rejected"]
    assert "first line is not the log header" in report.files[0].error
    assert "the file is empty" in report.files[1].error
    with pg_settings.connect() as conn:
        rows = conn.execute(
            "select path, status, error is not null from raw.ingested_files order by path"
        ).fetchall()
    assert rows == [
        ("CU-01_20261120_060000.log", "rejected", True),
        ("CU-01_20261120_140000.log", "rejected", True),
    ]
    assert counts(pg_settings) == (2, 0, 0)


def test_reprocess_replaces_rows_atomically(pg_settings, make_drop):
    drop = make_drop("local")
    name = "CU-01_20261120_060000.log"
    drop.put(name, log_bytes(30, extra="garbage\n"))
    first = ingest(pg_settings, drop.settings()).files[0]
    assert (first.rows, first.rejects) == (30, 1)
    drop.put(name, log_bytes(40))  # the machine's corrected export
    with open_drop(drop.settings()) as d:
        res = reprocess_file(pg_settings, d, name, plant_tz=TZ, run_id="again")
    # DESIGN section 4: a new version of the path (new file_id, so dbt's incremental models see
    # it); the earlier one stays in the registry as superseded, its rows gone.
    assert (res.status, res.rows, res.rejects, res.replaced) == ("loaded", 40, 0, 1)
    assert res.file_id > first.file_id
    assert counts(pg_settings) == (2, 40, 0)
    with pg_settings.connect() as conn:
        reg = conn.execute(
            "select file_id, status, superseded_by, run_id, event_count, size_bytes "
            "from raw.ingested_files order by file_id"
        ).fetchall()
    assert reg == [
        (first.file_id, "superseded", res.file_id, "r", 30, first.size_bytes),
        (res.file_id, "loaded", None, "again", 40, drop.path(name).stat().st_size),
    ]


def test_reprocess_refuses_a_file_no_longer_in_the_drop(pg_settings, make_drop):
    drop = make_drop("local")
    with open_drop(drop.settings()) as d, pytest.raises(FileNotFoundError, match="archive"):
        reprocess_file(pg_settings, d, "CU-01_20261120_060000.log", plant_tz=TZ, run_id="x")


def test_backend_terminated_mid_copy_leaves_nothing_and_rerun_loads_once(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(20_000))
    drop.put("CU-01_20261120_140000.log", log_bytes(10, hour=14))
    killed = []

    def kill_backend(path: str, rows: int, pid: int) -> None:
        if not killed:
            with psycopg.connect(pg_settings.conninfo(), autocommit=True) as admin:
                killed.append(admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone())

    report = ingest(pg_settings, drop.settings(), on_flush=kill_backend)
    assert killed == [(True,)]
    assert [f.status for f in report.files] == ["failed", "loaded"]
    assert "CU-01_20261120_060000.log" in report.files[0].error
    assert counts(pg_settings) == (1, 10, 0)  # nothing of the killed file, the next one loaded

    rerun = ingest(pg_settings, drop.settings(), run_id="rerun")
    assert [f.status for f in rerun.files] == ["loaded", "skipped"]
    assert counts(pg_settings) == (2, 20_010, 0)
    with pg_settings.connect() as conn:
        assert conn.execute("select sum(value_num) from raw.machine_events").fetchone()[0] == (
            expected_qty(20_000) + expected_qty(10)
        )


def test_ftp_connection_dropped_mid_download_leaves_nothing_and_rerun_loads_once(
    pg_settings, make_drop
):
    drop = make_drop("ftp")
    n = 300_000  # ~27 MB: the transfer is far from done when the first COPY batch is flushed
    drop.put("CU-01_20261120_060000.log", log_bytes(n))
    killed = []

    def drop_connection(path: str, rows: int, pid: int) -> None:
        if not killed:
            killed.append(drop.kill_sessions())

    report = ingest(pg_settings, drop.settings(), on_flush=drop_connection)
    assert killed and killed[0] >= 1
    assert [f.status for f in report.files] == ["failed"]
    assert counts(pg_settings) == (0, 0, 0)

    rerun = ingest(pg_settings, drop.settings(), run_id="rerun")
    assert [(f.status, f.rows) for f in rerun.files] == [("loaded", n)]
    assert counts(pg_settings) == (1, n, 0)


def test_archive_moves_the_file_only_after_commit(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01/CU-01_20261120_060000.log", log_bytes(5))
    report = ingest(pg_settings, drop.settings(), archive=True)
    assert report.files[0].status == "loaded"
    assert report.files[0].archived_to == "archive/CU-01/CU-01_20261120_060000.log"
    assert drop.path("archive/CU-01/CU-01_20261120_060000.log").exists()
    assert not drop.path("CU-01/CU-01_20261120_060000.log").exists()
    assert counts(pg_settings) == (1, 5, 0)


def test_loader_refuses_a_traversal_name_without_touching_the_warehouse(pg_settings, make_drop):
    drop = make_drop("local")
    with open_drop(drop.settings()) as d:
        report = ingest_files(
            pg_settings,
            d,
            [RemoteFile("../outside.log", 10, datetime.now(UTC))],
            plant_tz=TZ,
            run_id="r",
        )
    assert report.files[0].status == "failed"
    assert "refused remote name" in report.files[0].error
    assert counts(pg_settings) == (0, 0, 0)


def test_reject_rate_over_the_limit_is_reported(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(9, extra="bad line\n"))  # 10% rejects
    drop.put("CU-02_20261120_060000.log", log_bytes(99, machine="CU-02", extra="bad\n"))  # 1%
    ingest(pg_settings, drop.settings(), run_id="run-1")
    with pg_settings.connect() as conn:
        run, checked, offenders = files_over_reject_rate(conn, "run-1", 0.05)
        _, _, none = files_over_reject_rate(conn, "run-1", 0.2)
        latest, _, _ = files_over_reject_rate(conn, "some-other-run", 0.05)
    assert (run, checked) == ("run-1", 2)
    assert offenders == [("CU-01_20261120_060000.log", 1, 10, 0.1)]
    assert none == []
    assert latest == "run-1"


def test_ensure_raw_schema_is_idempotent(pg_conn):
    ensure_raw_schema(pg_conn)
    ensure_raw_schema(pg_conn)
    cols = pg_conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'raw' and table_name = 'machine_events' order by ordinal_position"
    ).fetchall()
    assert [c[0] for c in cols] == [
        "file_id",
        "line_no",
        "machine_id",
        "event_type",
        "event_local_ts",
        "event_at",
        "order_ref",
        "program",
        "value_text",
        "value_num",
        "message",
    ]


def test_cursor_forgets_ingested_files():
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    listing = [RemoteFile(f"CU-01_{i:04d}.log", 100, now - timedelta(hours=1)) for i in range(50)]
    d1 = decide_tick(None, listing, set(), now=now, min_age_s=0, retry_after_s=900)
    d2 = decide_tick(d1.cursor, listing, set(), now=now, min_age_s=0, retry_after_s=900)
    assert (len(d1.settled), len(d2.settled)) == (0, 50)
    done = {f.path for f in listing}
    d3 = decide_tick(d2.cursor, listing, done, now=now, min_age_s=0, retry_after_s=900)
    assert d3.settled == [] and d3.cursor == '{"v":3,"seen":{},"req":{}}'


def test_backslashes_tabs_and_quotes_survive_copy(pg_settings, make_drop):
    drop = make_drop("local")
    body = (
        f"{HEAD}\n"
        '2026-11-20 06:00:00;CU-01;ALARM;;PRG\\1;E1;"Fichier C:\\temp\\n.log; onglet\tici"\n'
        "2026-11-20 06:00:01;CU-01;OPERATOR;;;B\\42;fin\\\n"
        "2026-11-20 06:00:02;CU-01;FOO;;;x;rejet\\t\tavec tab\n"
    )
    drop.put("CU-01_20261120_060000.log", body.encode())
    ingest(pg_settings, drop.settings())
    with pg_settings.connect() as conn:
        rows = conn.execute(
            "select program, value_text, message from raw.machine_events order by line_no"
        ).fetchall()
        reject = conn.execute("select raw_line from raw.machine_event_rejects").fetchone()[0]
    assert rows == [
        ("PRG\\1", "E1", "Fichier C:\\temp\\n.log; onglet\tici"),
        (None, "B\\42", "fin\\"),
    ]
    assert reject == "2026-11-20 06:00:02;CU-01;FOO;;;x;rejet\\t\tavec tab"


def test_foreign_keys_still_guard_the_raw_tables(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(3))
    ingest(pg_settings, drop.settings())
    with pg_settings.connect() as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "insert into raw.machine_events (file_id, line_no, machine_id, event_type, "
            "event_local_ts, event_at) values (999, 2, 'CU-01', 'STATE', now(), now())"
        )


def test_a_requested_file_is_offered_again_only_after_retry_after():
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    f = RemoteFile("CU-01_20261120_060000.log", 100, t0 - timedelta(hours=1))
    kw = {"min_age_s": 10, "retry_after_s": 600}
    d1 = decide_tick(None, [f], set(), now=t0, **kw)
    d2 = decide_tick(d1.cursor, [f], set(), now=t0 + timedelta(seconds=5), **kw)
    d3 = decide_tick(d2.cursor, [f], set(), now=t0 + timedelta(seconds=10), **kw)
    d4 = decide_tick(d3.cursor, [f], set(), now=t0 + timedelta(seconds=300), **kw)
    d5 = decide_tick(d4.cursor, [f], set(), now=t0 + timedelta(seconds=611), **kw)
    assert [len(d.settled) for d in (d1, d2, d3, d4, d5)] == [0, 0, 1, 0, 1]
    assert (d1.waiting, d2.waiting) == (1, 1)  # younger than min age


def test_a_queued_run_holds_settled_files_for_one_larger_run():
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    kw = {"min_age_s": 10, "retry_after_s": 600}
    first = [RemoteFile(f"CU-01_{i:04d}.log", 100, t0) for i in range(3)]
    later = [*first, RemoteFile("CU-02_0001.log", 80, t0 + timedelta(seconds=10))]
    d1 = decide_tick(None, first, set(), now=t0, **kw)
    d2 = decide_tick(d1.cursor, later, set(), now=t0 + timedelta(seconds=10), hold=True, **kw)
    assert (d2.settled, d2.held, d2.waiting) == ([], 3, 1)
    d3 = decide_tick(d2.cursor, later, set(), now=t0 + timedelta(seconds=20), hold=True, **kw)
    assert (d3.settled, d3.held) == ([], 4)
    # The queue moved: every held file goes into the next request, first sightings kept.
    d4 = decide_tick(d3.cursor, later, set(), now=t0 + timedelta(seconds=21), **kw)
    assert (d4.settled, d4.held) == (later, 0)
    # A retry that falls due while a run is queued waits too, then is offered as attempt 2.
    d5 = decide_tick(d4.cursor, later, set(), now=t0 + timedelta(seconds=700), hold=True, **kw)
    assert (d5.settled, d5.held) == ([], 4)
    d6 = decide_tick(d5.cursor, later, set(), now=t0 + timedelta(seconds=701), **kw)
    assert d6.settled == later and set(d6.attempts.values()) == {2}


def test_a_run_takes_at_start_the_files_the_sensor_saw_settle_by_the_same_rule():
    """select_run_files with the sensor's cursor: the batch, plus versions first seen at least
    min_age_s ago, unchanged, never requested and not ingested; at most ``limit`` in all."""
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    kw = {"min_age_s": 10, "retry_after_s": 600}
    batch = RemoteFile("CU-01_0001.log", 100, t0)
    old = [RemoteFile(f"CU-02_{i:04d}.log", 80, t0) for i in range(3)]
    young = RemoteFile("SC-01_0001.log", 70, t0)
    grown = RemoteFile("AS-01_0001.log", 60, t0)
    d1 = decide_tick(None, [batch], set(), now=t0, **kw)
    d2 = decide_tick(d1.cursor, [batch, *old, grown], set(), now=t0 + timedelta(seconds=10), **kw)
    assert d2.settled == [batch]  # requested (the run's batch); the others first seen
    seen = decide_tick(
        d2.cursor, [batch, *old, grown, young], set(), now=t0 + timedelta(seconds=15), **kw
    )
    listing = [batch, *old, young, RemoteFile(grown.path, 65, t0 + timedelta(seconds=14))]

    def select(cursor, *, at_s: float, limit: int, ingested=frozenset()):
        return select_run_files(
            listing,
            [batch.path],
            now=t0 + timedelta(seconds=at_s),
            min_age_s=10,
            ingested=lambda files: {f.path for f in files} & set(ingested),
            sensor_cursor=cursor,
            limit=limit,
        ).files

    # old: settled; young: first seen 5 s ago; grown: its listed version is not the one seen
    assert {f.path for f in select(seen.cursor, at_s=20, limit=50)} == {
        batch.path,
        *(f.path for f in old),
    }
    assert young.path in {f.path for f in select(seen.cursor, at_s=25, limit=50)}
    assert len(select(seen.cursor, at_s=20, limit=2)) == 2  # the batch, then one more
    taken = select(seen.cursor, at_s=20, limit=50, ingested={old[0].path})
    assert old[0].path not in {f.path for f in taken}
    assert select(None, at_s=20, limit=50) == [batch]  # no cursor: the batch only


def test_a_file_that_changes_starts_settling_again():
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    kw = {"min_age_s": 0, "retry_after_s": 600}
    v1 = RemoteFile("CU-01_20261120_060000.log", 100, t0)
    v2 = RemoteFile("CU-01_20261120_060000.log", 250, t0 + timedelta(seconds=30))
    d1 = decide_tick(None, [v1], set(), now=t0, **kw)
    d2 = decide_tick(d1.cursor, [v2], set(), now=t0 + timedelta(seconds=30), **kw)
    d3 = decide_tick(d2.cursor, [v2], set(), now=t0 + timedelta(seconds=60), **kw)
    assert [d.settled for d in (d1, d2, d3)] == [[], [], [v2]]


def test_temporary_and_unsafe_names_are_never_offered():
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    listing = [
        RemoteFile("CU-01_20261120_060000.log.part", 1, t0),
        RemoteFile("CU-01_20261120_060000.log.TMP", 1, t0),
        RemoteFile("../CU-01_20261120_060000.log", 1, t0),
        RemoteFile("CU-01/x\n.log", 1, t0),
    ]
    kw = {"min_age_s": 0, "retry_after_s": 600}
    d1 = decide_tick(None, listing, set(), now=t0, **kw)
    d2 = decide_tick(d1.cursor, listing, set(), now=t0 + timedelta(seconds=60), **kw)
    assert d2.settled == []
    assert d2.refused == ["../CU-01_20261120_060000.log", "CU-01/x\n.log"]


def test_one_selection_decides_what_a_run_loads():
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    old, young = now - timedelta(hours=1), now - timedelta(seconds=5)
    listing = [
        RemoteFile("CU-01_20261120_060000 (1).log", 10, old),
        RemoteFile("CU-01_20261120_060000.log", 10, old),
        RemoteFile("CU-01_20261120_070000.log", 10, young),
        RemoteFile("CU-01_20261120_080000.log", 10, old),
        RemoteFile("CU-01_20261120_090000.log.part", 10, old),
        RemoteFile("../CU-01_20261120_060000.log", 10, old),
    ]
    asked: list[list[str]] = []

    def ingested(files):
        asked.append([f.path for f in files])
        return {"CU-01_20261120_080000.log"}

    by_hand = select_run_files(listing, [], now=now, min_age_s=30, ingested=ingested)
    assert [f.path for f in by_hand.files] == [
        "CU-01_20261120_060000.log",
        "CU-01_20261120_060000 (1).log",
    ]
    assert by_hand.refused == ["../CU-01_20261120_060000.log"]
    assert asked == [
        ["CU-01_20261120_060000 (1).log", "CU-01_20261120_060000.log", "CU-01_20261120_080000.log"]
    ]

    requested = ["CU-01_20261120_070000.log", "gone.log", "../CU-01_20261120_060000.log"]
    batch = select_run_files(listing, requested, now=now, min_age_s=30, ingested=ingested)
    assert [f.path for f in batch.files] == ["CU-01_20261120_070000.log"]
    assert batch.missing == ["gone.log"]
    assert len(asked) == 1  # an explicit batch never asks the registry


def test_a_failed_file_is_retried_with_backoff_fresh_run_keys_and_a_limit():
    t0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
    f = RemoteFile("CU-01_20261120_060000.log", 100, t0 - timedelta(hours=1))
    kw = {"min_age_s": 0, "retry_after_s": 600, "max_attempts": 3}

    def at(cursor, seconds, ingested=frozenset()):
        return decide_tick(cursor, [f], set(ingested), now=t0 + timedelta(seconds=seconds), **kw)

    d = at(at(None, 0).cursor, 1)  # settled: attempt 1 requested at +1
    assert (d.settled, d.attempts, d.failing) == ([f], {}, [])
    first_key = batch_key(d.settled)
    offered = []
    for second in (600, 601, 1800, 1801, 4000, 9000):
        d = at(d.cursor, second)
        offered.append((second, [x.path for x in d.settled], dict(d.attempts)))
    assert offered == [
        (600, [], {}),  # retry_after_s not over yet
        (601, [f.path], {f.path: 2}),  # attempt 2, after 600 s
        (1800, [], {}),  # backoff: the next wait is 1200 s
        (1801, [f.path], {f.path: 3}),  # attempt 3
        (4000, [], {}),  # max_attempts reached: never an endless retry
        (9000, [], {}),
    ]
    keys = {first_key, batch_key([f], {f.path: 2}), batch_key([f], {f.path: 3})}
    assert len(keys) == 3
    assert [(x.path, x.attempts, x.exhausted) for x in d.failing] == [(f.path, 3, True)]
    done = at(d.cursor, 9001, ingested={f.path})  # loaded by hand: forgotten, green again
    assert (done.failing, done.cursor) == ([], '{"v":3,"seen":{},"req":{}}')
