"""Command line of the plant simulator: ``python -m shutter_assets.simulator --help``.

Output is a pure function of the seed and the arguments (never of the clock), so a demo or a
failing test can be replayed exactly.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from datetime import date
from pathlib import Path

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.simulator.logs import (
    DEFAULT_TZ,
    GrowingFile,
    Mess,
    TempUpload,
    live_file,
    live_reupload,
    write_logs,
)
from shutter_assets.simulator.order_book import DEFAULT_ORDERS, DEFAULT_START, build_order_book
from shutter_assets.simulator.orders import OrdersConflictError, load_orders
from shutter_assets.simulator.plant import MACHINES


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _machines(text: str) -> list[str]:
    ids = [t.strip() for t in text.split(",") if t.strip()]
    known = {m.machine_id for m in MACHINES}
    unknown = [i for i in ids if i not in known]
    if unknown or not ids:
        raise argparse.ArgumentTypeError(
            f"unknown machine(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(sorted(known))}"
        )
    return ids


MESS_FLAGS = [f.name for f in fields(Mess)]


def _mess(text: str) -> Mess:
    try:
        return Mess.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--start",
        type=_date,
        default=DEFAULT_START,
        help=f"first production day, plant time (default {DEFAULT_START})",
    )
    p.add_argument(
        "--orders",
        type=int,
        default=DEFAULT_ORDERS,
        help=f"orders in the order book; use the same value for logs and orders "
        f"(default {DEFAULT_ORDERS})",
    )


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="folder to write the .log files into")
    p.add_argument("--days", type=int, default=2, help="days of two shifts each (default 2)")
    p.add_argument(
        "--machines",
        type=_machines,
        default=None,
        help="comma-separated machine ids (default: all of "
        + ",".join(m.machine_id for m in MACHINES)
        + ")",
    )
    p.add_argument("--messy", action="store_true", help="add every messy reality of DESIGN.md §4")
    p.add_argument(
        "--mess",
        type=_mess,
        default=None,
        help="only these messy realities, comma-separated: " + ", ".join(MESS_FLAGS),
    )
    p.add_argument("--subfolders", action="store_true", help="one sub-folder per machine")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"plant time zone (default {DEFAULT_TZ})")
    p.add_argument("--truth", type=Path, help="also write the truth as JSON to this file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shutter_assets.simulator",
        description="Deterministic roller-shutter plant simulator: machine log files in the "
        "DESIGN.md section 4 format and the legacy MySQL order book (db_commandes). "
        "MySQL connection from MYSQL_HOST/PORT/USER/PASSWORD/DATABASE.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("logs", help="write machine log files for some days and machines")
    _common(p)
    _logs_args(p)

    p = sub.add_parser(
        "orders", help="create (if missing) and fill the MySQL database of MYSQL_DATABASE"
    )
    _common(p)

    p = sub.add_parser("all", help="orders, then logs referencing the same orders")
    _common(p)
    _logs_args(p)

    p = sub.add_parser(
        "live",
        help="keep dropping new files (.part then renamed, or growing in place); now and then "
        "an earlier file again under another name",
    )
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="folder the sensor watches")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between files")
    p.add_argument("--count", type=int, default=0, help="stop after N files (0: until Ctrl-C)")
    p.add_argument("--machines", type=_machines, default=None, help="comma-separated ids")
    p.add_argument("--messy", action="store_true", help="machines write their messy formats")
    p.add_argument("--minutes", type=int, default=20, help="plant minutes covered per file")
    p.add_argument(
        "--days",
        type=int,
        default=2,
        help="the feed starts this many days after --start, continuing `logs --days N` "
        "without name clashes (default 2)",
    )
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"plant time zone (default {DEFAULT_TZ})")
    return parser


def _run_logs(args: argparse.Namespace) -> None:
    truth = write_logs(
        args.out,
        seed=args.seed,
        start=args.start,
        days=args.days,
        machines=args.machines,
        mess=args.mess or (Mess.all() if args.messy else Mess()),
        subfolders=args.subfolders,
        tz=args.tz,
        n_orders=args.orders,
    )
    if args.truth:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        args.truth.write_text(truth.to_json(), encoding="utf-8")
    print(
        f"logs: {len(truth.files)} files ({len(truth.duplicates)} duplicate) in {args.out}, "
        f"{len(truth.machines)} machines x {args.days} days from {args.start}, "
        f"{truth.accepted_total} valid lines, {truth.rejected_total} invalid, "
        f"messy={'some' if args.mess else args.messy}, seed={args.seed}"
    )


def _run_orders(args: argparse.Namespace) -> None:
    settings = MySQLSettings.from_env()
    truth = load_orders(settings, seed=args.seed, n_orders=args.orders, start=args.start)
    counts = ", ".join(f"{t} {n}" for t, n in truth.row_counts.items())
    print(
        f"orders: database {settings.database} on {settings.host}:{settings.port}: {counts}; "
        f"{len(truth.zero_date_numeros)} zero delivery dates, seed={args.seed}"
    )


def _run_live(args: argparse.Namespace) -> None:
    mess = Mess.all() if args.messy else Mess()
    feed = {
        "seed": args.seed,
        "start": args.start,
        "machines": args.machines,
        "mess": mess,
        "tz": args.tz,
        "n_orders": args.orders,
        "minutes": args.minutes,
        "book": build_order_book(args.seed, args.orders, args.start),
        "after_days": args.days,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    k = skipped = copies = 0
    try:
        while not args.count or k < args.count:
            name, data, truth = live_file(k=k, **feed)
            target = args.out / name
            if target.is_file() and target.read_bytes() == data:
                # A restarted feed resumes: files already delivered are not rewritten.
                copies += _reupload(args, feed, k)
                k += 1
                skipped += 1
                continue
            if k % 3 == 2:
                growing = GrowingFile(target, data)
                growing.start()
                time.sleep(args.interval / 2)
                growing.finish()
                how = "grown in place"
            else:
                upload = TempUpload(target, data, ".part" if k % 2 == 0 else ".tmp")
                upload.write()
                time.sleep(min(1.0, args.interval / 4))
                upload.rename()
                how = f"written as {upload.temp_path.name} then renamed"
            print(f"live: {name} ({truth.accepted} lines, {how})", flush=True)
            copies += _reupload(args, feed, k)
            k += 1
            if not args.count or k < args.count:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    print(
        f"live: {k - skipped} files written to {args.out}, {skipped} already there, "
        f"{copies} re-uploaded under another name"
    )


def _reupload(args: argparse.Namespace, feed: dict, k: int) -> int:
    """After some files (``live_reupload_of``: the 5th, 12th, ...) an earlier file is uploaded
    again under another name, same bytes, printed with the name it copies (the platform records
    it as a duplicate and loads the lines once). 1 if written, 0 if none or already there."""
    again = live_reupload(k=k, **feed)
    if again is None:
        return 0
    copy, data, truth = again
    target = args.out / copy
    if target.is_file() and target.read_bytes() == data:
        return 0
    upload = TempUpload(target, data, ".part")
    upload.write()
    time.sleep(min(1.0, args.interval / 4))
    upload.rename()
    print(
        f"live: {copy} ({truth.accepted} lines, a re-upload of {truth.duplicate_of}, "
        f"written as {upload.temp_path.name} then renamed)",
        flush=True,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("orders", "all"):
            _run_orders(args)
        if args.command in ("logs", "all"):
            _run_logs(args)
        if args.command == "live":
            _run_live(args)
    except OrdersConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
