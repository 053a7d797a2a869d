"""The plant simulator: determinism, the files against an independent reader, truth, MySQL.

The files are re-read here with the standard ``csv`` module and ``zoneinfo`` only, never with the
simulator's own writer, so a writer bug and a truth bug cannot cancel each other out.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.lib.log_names import machine_from_path
from shutter_assets.simulator.logs import (
    HEADER,
    REJECT_REASONS,
    LogsTruth,
    Mess,
    live_file,
    live_reupload,
    tree_digest,
    write_logs,
)
from shutter_assets.simulator.order_book import STATUTS, ZERO_DATE, build_order_book
from shutter_assets.simulator.orders import OrdersConflictError, load_orders
from shutter_assets.simulator.plant import (
    MACHINE_TYPES,
    MACHINES,
    PRODUCTS,
    PROGRAMS,
    order_numbers,
)

PARIS = ZoneInfo("Europe/Paris")
EVENTS = {"STATE", "CYCLE_START", "CYCLE_END", "SCRAP", "ALARM", "ALARM_CLEAR", "OPERATOR"}
STATES = {"RUNNING", "IDLE", "SETUP", "DOWN", "OFF"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> LogsTruth:
    return write_logs(tmp_path_factory.mktemp("messy"), seed=7, mess=Mess.all())


def read_text(path: Path, encoding: str) -> str:
    return path.read_bytes().decode(encoding)


def physical_lines(text: str, newline: str) -> list[str]:
    """Split on the file's line ending; a last line without ending is kept (truncated)."""
    parts = text.split(newline)
    return parts[:-1] if parts[-1] == "" else parts


def fields_of(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=";", quotechar='"'))


def parse_wall(text: str) -> datetime:
    base, _, ms = text.replace(",", ".").partition(".")
    wall = datetime.strptime(base, "%Y-%m-%d %H:%M:%S")
    return wall.replace(microsecond=int(ms) * 1000) if ms else wall


def quantity(text: str) -> int:
    value = float(text.replace(",", "."))
    assert value == int(value), text
    return int(value)


# --- reference data ---------------------------------------------------------------------------


def test_reference_tables_are_consistent() -> None:
    types = {m.machine_type for m in MACHINES}
    assert {p.machine_type for p in PROGRAMS} == types == {"CU", "SC", "AS"}
    assert len({m.machine_id for m in MACHINES}) == len(MACHINES)
    assert len({p.program for p in PROGRAMS}) == len(PROGRAMS)
    assert all(p.ideal_s_per_part > 0 and p.parts_per_cycle >= 1 for p in PROGRAMS)
    # Every active product is an assembly program, so order production maps to the seed.
    assembly = {p.program for p in PROGRAMS if p.machine_type == "AS"}
    assert {p.reference for p in PRODUCTS if p.actif} == assembly
    assert {p.type_lame for p in PRODUCTS} == {"PVC", "ALU", "ALU_ISOLE"}
    assert {p.motorisation for p in PRODUCTS} == {"MANUEL", "FILAIRE", "RADIO", "SOLAIRE"}


def _seed(name: str) -> list[dict[str, str]]:
    with (ROOT / "dbt_project" / "seeds" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_dbt_seeds_match_the_plant_reference_data() -> None:
    machines = [
        (r["machine_id"], r["machine_type"], r["machine_label"]) for r in _seed("machines.csv")
    ]
    assert machines == [(m.machine_id, m.machine_type, m.label) for m in MACHINES]
    types = [(r["machine_type"], r["machine_type_label"]) for r in _seed("machine_types.csv")]
    assert types == [(t.code, t.label) for t in MACHINE_TYPES]
    programs = [
        (r["program"], r["machine_type"], float(r["ideal_s_per_part"]), int(r["parts_per_cycle"]))
        for r in _seed("programs.csv")
    ]
    assert programs == [
        (p.program, p.machine_type, p.ideal_s_per_part, p.parts_per_cycle) for p in PROGRAMS
    ]


def test_order_numbers_are_formatted_unique_and_seeded() -> None:
    numbers = order_numbers(5, 300)
    assert len(set(numbers)) == 300 and numbers == sorted(numbers)
    assert all(len(n) == 15 and n.startswith("CMD-2026-") and n[9:].isdigit() for n in numbers)
    assert order_numbers(5, 300) == numbers
    assert order_numbers(6, 300) != numbers
    assert order_numbers(5, 50) == numbers[:50]


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_tree_and_another_seed_differs(tmp_path: Path) -> None:
    args = {"mess": Mess.all(), "subfolders": True}
    first = write_logs(tmp_path / "a", seed=11, **args)
    write_logs(tmp_path / "b", seed=11, **args)
    write_logs(tmp_path / "c", seed=12, **args)
    a, b, c = (tree_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert len(a) == len(first.files) >= 22
    assert a != c
    assert {p: h for p, h in a.items() if c.get(p) == h} == {}
    assert first.to_json() == write_logs(tmp_path / "d", seed=11, **args).to_json()


def test_a_machine_s_files_do_not_depend_on_the_other_machines(tmp_path: Path) -> None:
    write_logs(tmp_path / "all", seed=3, days=1)
    alone = write_logs(tmp_path / "one", seed=3, days=1, machines=["SC-02"])
    everything = tree_digest(tmp_path / "all")
    assert [f.path for f in alone.files] == [
        "SC-02_20261120_060000.log",
        "SC-02_20261120_140000.log",
    ]
    for path, digest in tree_digest(tmp_path / "one").items():
        assert everything[path] == digest


def test_default_demo_is_tidy(tmp_path: Path) -> None:
    truth = write_logs(tmp_path, seed=1)
    assert len(truth.files) == len(MACHINES) * 2 * 2
    assert truth.rejected_total == 0 and not truth.duplicates
    for f in truth.files:
        data = (tmp_path / f.path).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
        data.decode("utf-8")
        assert data.endswith(b"\n")


# --- the files, read independently ------------------------------------------------------------


def test_every_file_reads_back_as_its_truth(messy: LogsTruth) -> None:
    for f in messy.files:
        path = messy.out_dir / f.path
        data = path.read_bytes()
        assert len(data) == f.size
        text = read_text(path, f.encoding)
        lines = physical_lines(text, f.newline)
        assert len(lines) == f.line_count == 1 + f.accepted + len(f.rejected), f.path
        assert lines[0] == HEADER
        if f.newline == "\n":
            assert "\r" not in text
        rejected = {r.line_no: r for r in f.rejected}
        events = {e.line_no: e for e in f.events}
        assert set(rejected).isdisjoint(events)
        assert set(rejected) | set(events) == set(range(2, f.line_count + 1))
        for line_no, e in events.items():
            ts, machine_id, event, order_ref, program, value, message = fields_of(
                lines[line_no - 1]
            )
            assert machine_id == f.machine_id and event == e.event and event in EVENTS
            assert ts == e.wall
            # The true instant shown on the plant's clock is exactly what the line says.
            wall = e.instant.astimezone(PARIS).replace(tzinfo=None)
            assert parse_wall(ts) == wall, (f.path, line_no)
            assert (order_ref, program, message) == (e.order_ref, e.program, e.message)
            if event in ("CYCLE_END", "SCRAP"):
                assert quantity(value) == e.quantity > 0
            else:
                assert value == e.value
            if event == "STATE":
                assert value in STATES
        for line_no, r in rejected.items():
            assert lines[line_no - 1] == r.raw and r.reason in REJECT_REASONS


def test_rejected_lines_break_exactly_the_rule_they_are_filed_under(messy: LogsTruth) -> None:
    reasons = Counter()
    for f in messy.unique_files():
        path = messy.out_dir / f.path
        for r in f.rejected:
            reasons[r.reason] += 1
            fields = fields_of(r.raw)
            if r.reason == "truncated":
                assert len(fields) < 7
                assert r.line_no == f.line_count
                assert not path.read_bytes().endswith(b"\n")
                continue
            assert len(fields) == 7
            if r.reason == "bad_timestamp":
                with pytest.raises(ValueError):
                    parse_wall(fields[0])
            else:
                parse_wall(fields[0])
            if r.reason == "unknown_event":
                assert fields[2] not in EVENTS and fields[1] == f.machine_id
            if r.reason == "machine_mismatch":
                assert fields[1] != f.machine_id and fields[2] in EVENTS
    assert set(reasons) == set(REJECT_REASONS)
    assert messy.rejected_total == sum(reasons.values())


def test_encodings_bom_crlf_milliseconds_and_quotes(messy: LogsTruth) -> None:
    by_machine = defaultdict(list)
    for f in messy.unique_files():
        by_machine[f.machine_id].append(messy.out_dir / f.path)
    for path in by_machine["SC-01"] + by_machine["SC-02"]:
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("cp1252")
        assert "Opérateur connecté" in text
        assert b"\r\n" in data
        ends = [
            f
            for f in map(fields_of, text.splitlines()[1:])
            if f[1:3] == [path.name[:5], "CYCLE_END"]
        ]
        assert ends and all(f[5].endswith(",0") and f[5][:-2].isdigit() for f in ends)
    for path in by_machine["AS-01"]:
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf" + HEADER.encode())
        assert '"Opérateur connecté"' in data.decode("utf-8-sig")
        assert any(
            len(ln.split(";")[0]) == 23 and ln[19] == "."
            for ln in data.decode("utf-8-sig").splitlines()[1:]
        )
    for path in by_machine["CU-02"]:
        data = path.read_bytes()
        assert b"\r\n" in data and data.decode("utf-8").splitlines()[1][19] == ","
    cu01 = by_machine["CU-01"][0].read_bytes()
    assert b"\r\n" not in cu01 and not cu01.startswith(b"\xef\xbb\xbf")
    assert "Opérateur connecté" in cu01.decode("utf-8")
    quoted = [ln for ln in cu01.decode("utf-8").splitlines() if '"' in ln]
    assert quoted and all(";" in fields_of(ln)[6] for ln in quoted)  # only ';' needs quotes


def test_dst_file_repeats_the_autumn_hour(messy: LogsTruth) -> None:
    (dst,) = [f for f in messy.files if "dst" in f.features]
    assert dst.path == "CU-01_20261025_000000.log"
    lines = read_text(messy.out_dir / dst.path, dst.encoding).splitlines()[1:]
    walls = [parse_wall(fields_of(line)[0]) for line in lines]
    back = [
        i
        for i in range(1, len(walls))
        if walls[i] < walls[i - 1] and walls[i - 1].hour == 2 and walls[i].hour == 2
    ]
    assert back, "the wall clock never goes back inside 02:00-03:00"
    before, after = dst.events[back[0] - 1], dst.events[back[0]]
    assert before.wall.startswith("2026-10-25 02:59") and after.wall.startswith("2026-10-25 02:0")
    assert after.instant > before.instant  # later in truth though earlier on the wall
    instants = [e.instant for e in dst.events]
    assert instants == sorted(instants)
    # 00:00 to 04:00 on the plant's clock is five true hours that night.
    assert (dst.last_instant - dst.first_instant).total_seconds() > 4 * 3600


def test_concatenated_sessions_jump_back_but_stay_valid(messy: LogsTruth) -> None:
    (f,) = [f for f in messy.files if "backwards_session" in f.features]
    instants = [e.instant for e in f.events]
    jumps = [i for i in range(1, len(instants)) if instants[i] < instants[i - 1]]
    assert len(jumps) == 1
    assert instants[jumps[0]] < instants[0]  # the second block is older than the first
    assert not f.rejected


def test_duplicate_upload_has_the_same_bytes_under_another_name(messy: LogsTruth) -> None:
    assert messy.duplicates == {"CU-01_20261120_060000 (1).log": "CU-01_20261120_060000.log"}
    dup = (messy.out_dir / "CU-01_20261120_060000 (1).log").read_bytes()
    assert dup == (messy.out_dir / "CU-01_20261120_060000.log").read_bytes()
    assert (
        messy.accepted_total
        == sum(f.accepted for f in messy.files) - messy.file("CU-01_20261120_060000.log").accepted
    )


def test_growing_file_and_temporary_name_complete_to_the_same_tree(tmp_path: Path) -> None:
    done = write_logs(tmp_path / "done", seed=5, messy=True)
    pending = write_logs(tmp_path / "pending", seed=5, mess=Mess.all(), leave_pending=True)
    assert pending.growing is not None and pending.pending is not None
    grow = pending.growing.path
    truth = pending.file(grow.relative_to(tmp_path / "pending").as_posix())
    partial = grow.read_bytes()
    assert 0 < len(partial) < truth.size and not partial.endswith(b"\n")
    assert pending.pending.temp_path.exists() and not pending.pending.path.exists()
    assert pending.pending.temp_path.suffix in (".part", ".tmp")
    assert tree_digest(tmp_path / "pending") != tree_digest(tmp_path / "done")
    pending.growing.finish()
    pending.pending.rename()
    assert tree_digest(tmp_path / "pending") == tree_digest(tmp_path / "done")
    assert not [p for p in (tmp_path / "done").rglob("*") if p.suffix in (".part", ".tmp")]
    assert done.to_json() == pending.to_json()


def test_totals_equal_an_independent_count_of_the_files(messy: LogsTruth) -> None:
    counted: dict[str, Counter] = defaultdict(Counter)
    produced: Counter = Counter()
    scrap: Counter = Counter()
    for f in messy.unique_files():
        bad = {r.line_no for r in f.rejected}
        text = read_text(messy.out_dir / f.path, f.encoding)
        for line_no, line in enumerate(physical_lines(text, f.newline)[1:], start=2):
            if line_no in bad:
                continue
            _, machine_id, event, _, _, value, _ = fields_of(line)
            counted[machine_id][event] += 1
            if event == "CYCLE_END":
                produced[machine_id] += quantity(value)
            if event == "SCRAP":
                scrap[machine_id] += quantity(value)
    totals = messy.totals()
    assert set(totals) == {m.machine_id for m in MACHINES}
    for machine_id, t in totals.items():
        assert t.event_counts == dict(counted[machine_id])
        assert t.produced_qty == produced[machine_id] > t.scrap_qty == scrap[machine_id] > 0
        assert set(t.event_counts) == EVENTS
    by_order = messy.order_totals()
    assert sum(o.produced_qty for o in by_order.values()) < sum(produced.values())  # stock runs
    assert all(o.first_event_at <= o.last_event_at for o in by_order.values())


def test_daily_truth_follows_the_iso_time_model(messy: LogsTruth) -> None:
    daily = messy.daily()
    dst_day = daily[("CU-01", date(2026, 10, 25))]
    (dst,) = [f for f in messy.files if "dst" in f.features]
    first_state = next(e.instant for e in dst.events if e.event == "STATE")
    before_first = (first_state - datetime(2026, 10, 25, tzinfo=PARIS)).total_seconds()
    # The last OFF lasts until the next day begins: the DST day is 25 true hours long.
    assert dst_day.planned_busy_s + dst_day.off_s + before_first == pytest.approx(25 * 3600)
    for (machine_id, day), d in daily.items():
        if d.produced_qty == 0:
            continue
        assert d.run_s > 0 and d.planned_busy_s <= 25 * 3600
        assert 0.4 < d.ideal_run_s / d.run_s < 1.0, (machine_id, day)  # slower than ideal
        assert d.scrap_qty < d.produced_qty
    total = sum(d.produced_qty for d in daily.values())
    assert total == sum(t.produced_qty for t in messy.totals().values())
    assert sum(d.failures for d in daily.values()) == sum(
        t.event_counts["ALARM"] for t in messy.totals().values()
    )


# --- MySQL order book -------------------------------------------------------------------------


def _dump(settings: MySQLSettings) -> dict[str, list[tuple]]:
    conn = settings.connect()
    try:
        with conn.cursor() as cur:
            out = {}
            for table, key in [
                ("clients", "id_client"),
                ("produits", "id_produit"),
                ("commandes", "id_commande"),
                ("lignes_commande", "id_ligne"),
            ]:
                cur.execute(f"select * from `{table}` order by `{key}`")
                out[table] = list(cur.fetchall())
            return out
    finally:
        conn.close()


def _enum_values(cur, table: str, column: str) -> set[str]:
    cur.execute(
        "select column_type from information_schema.columns "
        "where table_schema = database() and table_name = %s and column_name = %s",
        (table, column),
    )
    (column_type,) = cur.fetchone()
    return {v.strip("'") for v in column_type[len("enum(") : -1].split(",")}


@pytest.mark.integration
def test_orders_fill_mysql_as_the_truth_says(mysql_settings: MySQLSettings, tmp_path: Path) -> None:
    truth = load_orders(mysql_settings, seed=9, n_orders=120)
    logs = write_logs(tmp_path, seed=9, n_orders=120, mess=Mess.all())
    conn = mysql_settings.connect()
    try:
        with conn.cursor() as cur:
            for table, expected in truth.row_counts.items():
                cur.execute(f"select count(*) from `{table}`")
                assert cur.fetchone()[0] == expected > 0, table
            cur.execute("select numero from commandes order by numero")
            numeros = [r[0] for r in cur.fetchall()]
            assert numeros == order_numbers(9, 120) == truth.numeros
            refs = {e.order_ref for _, e in logs.events() if e.order_ref}
            assert refs and refs <= set(numeros)
            assert len(refs) < len(numeros)  # some orders are never produced
            cur.execute("select statut from commandes where numero in %s", (sorted(refs),))
            assert {r[0] for r in cur.fetchall()} <= {"EN_PRODUCTION", "EXPEDIEE"}
            cur.execute(
                "select numero from commandes where date_livraison_prevue = '0000-00-00' "
                "order by numero"
            )
            zero = [r[0] for r in cur.fetchall()]
            assert zero and zero == sorted(truth.zero_date_numeros)
            cur.execute(
                "select table_name, table_collation from information_schema.tables "
                "where table_schema = database()"
            )
            collations = dict(cur.fetchall())
            assert collations["clients"].startswith("latin1")
            cur.execute("select id_client, raison_sociale, ville from clients order by id_client")
            rows = cur.fetchall()
            expected = [(c.id_client, c.raison_sociale, c.ville) for c in truth.book.clients]
            assert list(rows) == expected
            assert any(ch in "".join(r[1] + r[2] for r in rows) for ch in "éèçêâô")
            for table, column, values in [
                ("commandes", "statut", set(STATUTS)),
                ("produits", "type_lame", None),
                ("produits", "motorisation", None),
            ]:
                declared = _enum_values(cur, table, column)
                cur.execute(f"select distinct `{column}` from `{table}`")
                used = {r[0] for r in cur.fetchall()}
                assert used == declared == (values or declared)
            cur.execute("select date_maj from commandes where id_commande = 1")
            assert cur.fetchone()[0] == truth.book.commandes[0].date_maj
            cur.execute("select sum(montant_ht) from commandes")
            assert cur.fetchone()[0] == sum(c.montant_ht for c in truth.book.commandes)
    finally:
        conn.close()


@pytest.mark.integration
def test_orders_rerun_is_idempotent_and_another_seed_is_refused(
    mysql_settings: MySQLSettings,
) -> None:
    load_orders(mysql_settings, seed=4, n_orders=60)
    before = _dump(mysql_settings)
    load_orders(mysql_settings, seed=4, n_orders=60)
    assert _dump(mysql_settings) == before
    with pytest.raises(OrdersConflictError, match=mysql_settings.database):
        load_orders(mysql_settings, seed=5, n_orders=60)
    assert _dump(mysql_settings) == before


def test_order_book_holds_every_statut_and_zero_dates() -> None:
    book = build_order_book(seed=2, n_orders=6)
    assert sorted(c.statut for c in book.commandes) == sorted(STATUTS)
    assert any(c.date_livraison_prevue == ZERO_DATE for c in book.commandes)
    assert book.produced_orders()


# --- command line -----------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shutter_assets.simulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_cli_logs_writes_files_and_truth(tmp_path: Path) -> None:
    result = _cli(
        "logs",
        "--out",
        str(tmp_path / "drop"),
        "--seed",
        "2",
        "--days",
        "1",
        "--machines",
        "CU-01,SC-01",
        "--messy",
        "--subfolders",
        "--truth",
        str(tmp_path / "truth.json"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("logs: ") and len(result.stdout.splitlines()) == 1
    truth = json.loads((tmp_path / "truth.json").read_text("utf-8"))
    written = tree_digest(tmp_path / "drop")
    assert {f["path"]: f["sha256"] for f in truth["files"]} == written
    assert all(p.split("/")[0] in ("CU-01", "SC-01") for p in written)
    bad = _cli("logs", "--out", str(tmp_path / "x"), "--machines", "CU-09")
    assert bad.returncode == 2 and "CU-09" in bad.stderr


@pytest.mark.integration
def test_cli_orders_uses_the_mysql_environment(mysql_settings: MySQLSettings) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MYSQL_HOST": mysql_settings.host,
        "MYSQL_PORT": str(mysql_settings.port),
        "MYSQL_USER": mysql_settings.user,
        "MYSQL_PASSWORD": mysql_settings.password,
        "MYSQL_DATABASE": mysql_settings.database,
    }
    result = _cli("orders", "--seed", "3", "--orders", "30", env=env)
    assert result.returncode == 0, result.stderr
    assert mysql_settings.database in result.stdout and "commandes 30" in result.stdout
    again = _cli("orders", "--seed", "8", "--orders", "30", env=env)
    assert again.returncode == 2 and "drop the database" in again.stderr


def test_cli_live_drops_settled_files_only(tmp_path: Path) -> None:
    result = _cli("live", "--out", str(tmp_path), "--interval", "0", "--count", "4")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 4 and all(f.endswith(".log") for f in files)
    assert files[0] == "CU-01_20261122_060000.log"  # continues after `logs --days 2`
    assert "grown in place" in result.stdout and ".part then renamed" in result.stdout
    digest = tree_digest(tmp_path)
    again = _cli("live", "--out", str(tmp_path), "--interval", "0", "--count", "5")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1].endswith(
        f"1 files written to {tmp_path}, 4 already there, 0 re-uploaded under another name"
    )
    after = tree_digest(tmp_path)
    assert {p: after[p] for p in digest} == digest and len(after) == 5


def test_live_feed_re_uploads_an_earlier_file_under_another_name() -> None:
    """Issue 11: now and then a file already delivered comes again, same bytes, another name."""
    copies = {k: live_reupload(1, k, after_days=2) for k in range(20)}
    assert [k for k, c in copies.items() if c] == [5, 12, 19]
    for k in (5, 12, 19):
        copy, data, truth = copies[k]
        name, original, first = live_file(1, k - 3, after_days=2)
        assert copy == name.removesuffix(".log") + " (1).log" != name
        assert data == original and truth.sha256 == first.sha256
        assert (truth.path, truth.duplicate_of) == (copy, name)
        assert machine_from_path(copy) == truth.machine_id == first.machine_id
        assert truth.events == first.events and "duplicate" in truth.features
        assert live_reupload(1, k, after_days=2) == copies[k]  # a pure function of (seed, k)


def test_cli_live_prints_each_re_upload_with_the_file_it_copies(tmp_path: Path) -> None:
    result = _cli("live", "--out", str(tmp_path), "--interval", "0", "--count", "7")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    name, _, _ = live_file(1, 2, after_days=2)
    copy = name.removesuffix(".log") + " (1).log"
    # printed right after the 6th file (k = 5), once its rename made it complete
    assert lines[6].startswith(f"live: {copy} (") and f"a re-upload of {name}," in lines[6]
    assert (tmp_path / copy).read_bytes() == (tmp_path / name).read_bytes()
    assert len(list(tmp_path.iterdir())) == 8
    assert lines[-1] == f"live: 7 files written to {tmp_path}, 0 already there, 1 re-uploaded " + (
        "under another name"
    )
    again = _cli("live", "--out", str(tmp_path), "--interval", "0", "--count", "7")
    assert again.stdout.splitlines() == [
        f"live: 0 files written to {tmp_path}, 7 already there, 0 re-uploaded under another name"
    ]


def test_cli_mess_flags_select_single_realities(tmp_path: Path) -> None:
    result = _cli(
        "logs",
        "--out",
        str(tmp_path),
        "--days",
        "1",
        "--machines",
        "SC-01",
        "--mess",
        "cp1252,duplicate_upload",
        "--truth",
        str(tmp_path.parent / "t.json"),
    )
    assert result.returncode == 0, result.stderr
    files = json.loads((tmp_path.parent / "t.json").read_text("utf-8"))["files"]
    assert [f["encoding"] for f in files] == ["cp1252"] * 3
    assert all(f["newline"] == "\n" for f in files)  # crlf was not asked for
    assert [f["duplicate_of"] for f in files].count("SC-01_20261120_060000.log") == 1
    bad = _cli("logs", "--out", str(tmp_path), "--mess", "cp1252,nonsense")
    assert bad.returncode == 2 and "nonsense" in bad.stderr
    assert Mess.parse("all") == Mess.all() and Mess.parse("bom") == Mess(bom=True)


def test_rerun_into_the_same_drop_leaves_existing_uploads_untouched(tmp_path):
    """A demo rerun must not touch files already uploaded: a new mtime looks like a re-upload."""
    write_logs(tmp_path, seed=3, days=1, mess=Mess.all())
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.log")}
    for path in before:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    write_logs(tmp_path, seed=3, days=1, mess=Mess.all())
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.log")}
    assert set(after) == set(before)
    assert set(after.values()) == {1_000_000_000}
