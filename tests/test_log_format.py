"""The log parser against each messy reality of DESIGN.md section 4, with exact outcomes."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime

import pytest

from shutter_assets.lib.log_format import (
    HEADER,
    TRUNCATED,
    Event,
    LogHeaderError,
    LogParser,
    Reject,
    machine_from_path,
)

HEAD = ";".join(HEADER)
PATH = "CU-01_20261120_060000.log"


def parse(data: bytes, path: str = PATH, tz: str = "Europe/Paris"):
    parser = LogParser(io.BytesIO(data), path=path, plant_tz=tz)
    items = list(parser)
    events = [i for i in items if isinstance(i, Event)]
    rejects = [i for i in items if isinstance(i, Reject)]
    return parser, events, rejects


def lines(*body: str, end: str = "\n") -> str:
    return end.join([HEAD, *body]) + end


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_contract_example_parses_every_field():
    data = lines(
        "2026-11-20 06:00:03;CU-01;STATE;;;RUNNING;",
        "2026-11-20 06:00:05;CU-01;CYCLE_START;CMD-2026-000123;LAME-ALU-39;;",
        "2026-11-20 06:01:17,250;CU-01;CYCLE_END;CMD-2026-000123;LAME-ALU-39;4;",
        "2026-11-20 06:01:20;CU-01;SCRAP;CMD-2026-000123;LAME-ALU-39;1;"
        '"Bavure; reprise impossible"',
        "2026-11-20 06:02:00;CU-01;ALARM;;;E1042;Défaut broche",
        "2026-11-20 06:09:41;CU-01;ALARM_CLEAR;;;E1042;",
        "2026-11-20 06:10:00.5;CU-01;OPERATOR;;;B-0042;",
    ).encode()
    parser, events, rejects = parse(data)
    assert [e.line_no for e in events] == [2, 3, 4, 5, 6, 7]
    assert events[0] == Event(
        2,
        "CU-01",
        "STATE",
        "2026-11-20 06:00:03.000",
        "2026-11-20 06:00:03.000+01:00",
        None,
        None,
        "RUNNING",
        None,
        None,
    )
    assert events[2].local_ts == "2026-11-20 06:01:17.250"
    assert events[2].instant == utc("2026-11-20 05:01:17.250")
    assert (events[2].value_text, events[2].value_num) == ("4", "4")
    assert events[3].message == "Bavure; reprise impossible"
    assert events[4].message == "Défaut broche"
    assert events[4].value_num is None
    assert rejects == [
        Reject(8, "2026-11-20 06:10:00.5;CU-01;OPERATOR;;;B-0042;", rejects[0].reason)
    ]
    assert rejects[0].reason == "bad timestamp '2026-11-20 06:10:00.5'"
    assert (parser.line_count, parser.event_count, parser.reject_count) == (8, 6, 1)
    assert parser.encoding == "utf-8"


def test_windows_1252_accents_are_intact():
    data = lines("2026-11-20 06:02:00;CU-01;ALARM;;;E1042;Défaut broche, très chaud °C").encode(
        "cp1252"
    )
    parser, events, rejects = parse(data)
    assert rejects == []
    assert events[0].message == "Défaut broche, très chaud °C"
    assert parser.encoding == "windows-1252"


def test_cp1252_accents_after_a_long_ascii_start_are_intact():
    ascii_body = ["2026-11-20 06:00:03;CU-01;STATE;;;RUNNING;"] * 5000  # ~220 KB of ASCII first
    data = lines(*ascii_body, "2026-11-20 07:00:00;CU-01;ALARM;;;E1;Arrêt d'urgence").encode(
        "cp1252"
    )
    parser, events, rejects = parse(data)
    assert rejects == []
    assert events[-1].message == "Arrêt d'urgence"
    assert parser.encoding == "windows-1252"


def test_utf8_with_bom_and_crlf():
    data = b"\xef\xbb\xbf" + lines(
        "2026-11-20 06:02:00;CU-01;ALARM;;;E1042;Défaut broche",
        '2026-11-20 06:03:00;CU-01;SCRAP;;LAME;2;"fin; ébavurage"',
        end="\r\n",
    ).encode("utf-8")
    parser, events, rejects = parse(data)
    assert rejects == []
    assert [e.message for e in events] == ["Défaut broche", "fin; ébavurage"]
    assert parser.encoding == "utf-8-sig"


def test_file_mixing_utf8_and_cp1252_lines_keeps_both():
    data = (
        HEAD.encode()
        + b"\n"
        + "2026-11-20 06:02:00;CU-01;ALARM;;;E1;Défaut\n".encode()
        + "2026-11-20 06:03:00;CU-01;ALARM;;;E2;Arrêt\n".encode("cp1252")
    )
    parser, events, _ = parse(data)
    assert [e.message for e in events] == ["Défaut", "Arrêt"]
    assert parser.encoding == "mixed"


def test_decimal_comma_and_negative_quantities():
    data = lines(
        "2026-11-20 06:01:17;CU-01;CYCLE_END;;;2,5;",
        "2026-11-20 06:01:18;CU-01;CYCLE_END;;;-1;",
        "2026-11-20 06:01:19;CU-01;SCRAP;;;;",
        "2026-11-20 06:01:20;CU-01;SCRAP;;;1.25;",
    ).encode()
    _, events, rejects = parse(data)
    assert [(e.line_no, e.value_text, e.value_num) for e in events] == [
        (2, "2,5", "2.5"),
        (5, "1.25", "1.25"),
    ]
    assert [(r.line_no, r.reason) for r in rejects] == [
        (3, "bad CYCLE_END value '-1' (expected a non-negative number)"),
        (4, "bad SCRAP value '' (expected a non-negative number)"),
    ]


def test_truncated_last_line_is_rejected_with_its_reason():
    data = (lines("2026-11-20 06:00:03;CU-01;STATE;;;RUNNING;") + "2026-11-20 06:00:0").encode()
    _, events, rejects = parse(data)
    assert len(events) == 1
    assert rejects == [Reject(3, "2026-11-20 06:00:0", TRUNCATED)]
    assert TRUNCATED == "truncated line (no newline at end of file)"


def test_valid_last_line_without_newline_is_loaded():
    data = (HEAD + "\n2026-11-20 06:00:03;CU-01;STATE;;;IDLE;").encode()
    _, events, rejects = parse(data)
    assert rejects == []
    assert [(e.line_no, e.value_text) for e in events] == [(2, "IDLE")]


def test_autumn_repeated_hour_second_occurrence_from_file_order():
    # 2026-10-25: Paris goes from +02:00 back to +01:00 at 03:00 local.
    data = lines(
        "2026-10-25 01:59:00;CU-01;STATE;;;RUNNING;",
        "2026-10-25 02:15:00;CU-01;CYCLE_START;;;;",
        "2026-10-25 02:45:00,500;CU-01;CYCLE_END;;;1;",
        "2026-10-25 02:05:00;CU-01;CYCLE_START;;;;",  # wall time goes backwards: second pass
        "2026-10-25 02:30:00;CU-01;CYCLE_END;;;1;",
        "2026-10-25 02:59:59;CU-01;STATE;;;IDLE;",
        "2026-10-25 03:10:00;CU-01;STATE;;;RUNNING;",
    ).encode()
    _, events, rejects = parse(data)
    assert rejects == []
    assert [e.instant for e in events] == [
        utc("2026-10-24 23:59:00"),
        utc("2026-10-25 00:15:00"),
        utc("2026-10-25 00:45:00.500"),
        utc("2026-10-25 01:05:00"),
        utc("2026-10-25 01:30:00"),
        utc("2026-10-25 01:59:59"),
        utc("2026-10-25 02:10:00"),
    ]
    assert events[3].local_ts == "2026-10-25 02:05:00.000"
    assert events[3].event_at == "2026-10-25 02:05:00.000+01:00"


def test_spring_forward_gap_time_is_rejected():
    data = lines(
        "2026-03-29 01:59:59;CU-01;STATE;;;RUNNING;",
        "2026-03-29 02:30:00;CU-01;STATE;;;IDLE;",
        "2026-03-29 03:00:00;CU-01;STATE;;;RUNNING;",
    ).encode()
    _, events, rejects = parse(data)
    assert [e.instant for e in events] == [utc("2026-03-29 00:59:59"), utc("2026-03-29 01:00:00")]
    assert rejects == [
        Reject(
            3,
            "2026-03-29 02:30:00;CU-01;STATE;;;IDLE;",
            "nonexistent local time '2026-03-29 02:30:00' "
            "(skipped by the spring-forward change in Europe/Paris)",
        )
    ]


def test_backward_jump_outside_dst_is_valid():
    data = lines(
        "2026-11-20 10:00:00;CU-01;STATE;;;RUNNING;",
        "2026-11-20 06:00:00;CU-01;STATE;;;IDLE;",  # a concatenated earlier session
        "2026-11-20 06:30:00;CU-01;STATE;;;DOWN;",
    ).encode()
    _, events, rejects = parse(data)
    assert rejects == []
    assert [e.instant for e in events] == [
        utc("2026-11-20 09:00:00"),
        utc("2026-11-20 05:00:00"),
        utc("2026-11-20 05:30:00"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2026-11-20 06:00:03;CU-01;STATE;;RUNNING", "expected 7 fields, got 5"),
        ("2026-11-20 06:00:03;CU-01;STATE;;;RUNNING;;", "expected 7 fields, got 8"),
        ("2026-13-01 06:00:03;CU-01;STATE;;;RUNNING;", "bad timestamp '2026-13-01 06:00:03'"),
        ("2026-11-20T06:00:03;CU-01;STATE;;;RUNNING;", "bad timestamp '2026-11-20T06:00:03'"),
        ("2026-11-20 06:00:60;CU-01;STATE;;;RUNNING;", "bad timestamp '2026-11-20 06:00:60'"),
        ("2026-11-20 06:00:03;CU-01;FOO;;;1;", "unknown event type 'FOO'"),
        (
            "2026-11-20 06:00:03;CU-02;STATE;;;RUNNING;",
            "machine_id 'CU-02' does not match file machine 'CU-01'",
        ),
        (
            "2026-11-20 06:00:03;cu-01;STATE;;;RUNNING;",
            "bad machine_id 'cu-01' (expected like 'CU-01')",
        ),
        (
            "2026-11-20 06:00:03;CU-01;STATE;;;PAUSE;",
            "bad STATE value 'PAUSE' (expected one of DOWN, IDLE, OFF, RUNNING, SETUP)",
        ),
        (
            "2026-11-20 06:00:03;CU-01;CYCLE_START;CMD-26-1;;;",
            "bad order_ref 'CMD-26-1' (expected CMD-YYYY-NNNNNN or empty)",
        ),
        ("2026-11-20 06:00:03;CU-01;ALARM;;;;", "missing ALARM value (alarm code)"),
        ("2026-11-20 06:00:03;CU-01;OPERATOR;;;;", "missing OPERATOR value (badge)"),
        ("", "empty line"),
        (
            '2026-11-20 06:00:03;CU-01;ALARM;;;E1;"open quote',
            "malformed quoting (unexpected end of data)",
        ),
    ],
)
def test_each_contract_violation_has_a_precise_reason(line, reason):
    data = lines(
        "2026-11-20 05:00:00;CU-01;STATE;;;OFF;", line, "2026-11-20 07:00:00;CU-01;STATE;;;IDLE;"
    )
    _, events, rejects = parse(data.encode())
    assert [(r.line_no, r.raw_line, r.reason) for r in rejects] == [(3, line, reason)]
    assert [e.line_no for e in events] == [2, 4]  # the rest of the file still loads


def test_overlong_line_is_rejected_without_being_accumulated():
    data = lines(
        "2026-11-20 06:00:03;CU-01;ALARM;;;E1;" + "x" * 200,
        "2026-11-20 06:00:04;CU-01;STATE;;;IDLE;",
    )
    parser = LogParser(
        io.BytesIO(data.encode()), path=PATH, plant_tz="Europe/Paris", max_line_bytes=100
    )
    items = list(parser)
    assert isinstance(items[0], Reject)
    assert items[0].reason == "line longer than 100 bytes"
    assert isinstance(items[1], Event) and items[1].line_no == 3


def test_wrong_header_refuses_the_whole_file():
    with pytest.raises(LogHeaderError, match="first line is not the log header"):
        parse(b"ts;machine;event\n2026-11-20 06:00:03;CU-01;STATE;;;RUNNING;\n")
    with pytest.raises(LogHeaderError, match="the file is empty"):
        parse(b"")


def test_header_in_cp1252_file_with_crlf_is_accepted():
    parser, events, _ = parse((HEAD + "\r\n").encode("cp1252"))
    assert events == [] and parser.line_count == 1


def test_file_machine_comes_from_the_name_even_for_a_renamed_copy():
    assert machine_from_path("CU-01_20261120_060000 (1).log") == "CU-01"
    assert machine_from_path("SC-03/SC-03_20261120_060000.log") == "SC-03"
    assert machine_from_path("notes.txt") is None


class _Lines(io.RawIOBase):
    """An endless-looking stream that makes lines on demand, like a download."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.i = 0
        self.pending = (HEAD + "\n").encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self.pending) < len(buffer) and self.i < self.n:
            self.i += 1
            self.pending += (
                f"2026-11-20 06:{self.i // 60 % 60:02d}:{self.i % 60:02d};CU-01;CYCLE_END;"
                f"CMD-2026-{self.i % 999999:06d};LAME-ALU-39;{self.i % 7},5;Pièce n°{self.i}\n"
            ).encode()
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def test_parser_streams_without_holding_the_file():
    n = 100_000  # ~9 MB of log text
    stream = io.BufferedReader(_Lines(n), buffer_size=1 << 16)
    parser = LogParser(stream, path=PATH, plant_tz="Europe/Paris")
    tracemalloc.start()
    count = 0
    for item in parser:
        count += isinstance(item, Event)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    assert peak < 2 * 1024 * 1024  # a few lines and the minute cache, not 9 MB
