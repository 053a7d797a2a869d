"""Field-proof ingestion (issue 10, machine logs): inputs real drops produce, on real PostgreSQL.

Each test gives the smallest input of one kind of fault and asserts the exact rows it must leave.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shutter_assets.lib.drop import RemoteFile, open_drop
from shutter_assets.lib.log_format import HEADER, NUL_SHOWN_AS, TRUNCATED
from shutter_assets.lib.log_registry import already_ingested
from tests.test_machine_logs import counts, ingest

HEAD = ";".join(HEADER)
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
