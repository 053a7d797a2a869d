"""Benchmark: legacy order lines MySQL → PostgreSQL, our sync vs the limit and a naive baseline.

Builds a ``lignes_commande`` of N rows (default 1,000,000) in a uniquely named MySQL database and,
in the same run, times:

  (a) our asset's full load           sync_tables(..., ["lignes_commande"])  (first sync), run
      once with one stream and once with ``--workers`` parallel PK ranges
  (b) an incremental rerun, nothing new (same call again)
  (e) steady-state runs 15 minutes apart, each after 100 updated rows and one edited order
      (4 lines hard-deleted), each an incremental read followed by the reconcile's key
      comparison of every bucket (deletes, which every run does): (e2) with the content of one
      bucket only (``reconcile_interval_s`` = 10**9, the floor of a run), (e3) with the content
      of the default slice (issue 16), i.e. a run with the default settings, (e4) with the
      content of every bucket (``reconcile_interval_s=0``). (e1), the incremental read alone,
      is no longer run: no setting skips the key comparison any more.
  (c) the limit                        mysql --batch | psql \\copy into a table with the same PK
  (d) the naive baseline               pandas.read_sql + DataFrame.to_sql(method="multi")

and prints rows/s and the ratios against the goals: (a) >= 0.5 x (c), (a) >= 20 x (d),
(b) < 5 % of (a), (e2) <= 10 % of (a), (e3) <= 15 % of (a); (e4) is printed for reference.
(d) runs on a subset (``--naive-rows``) and its rows/s is extrapolated; the output says so.
``date_maj`` values are spread over the past (one row a minute), as in a real order book, so the
overlap window of (b) covers a handful of rows, not the whole table.

    .venv/bin/python -m bench.ingest_mysql [--rows 1000000] [--naive-rows 50000] [--workers N]

Databases are created with unique names on the servers of the MYSQL_* / POSTGRES_* variables and
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import time
import uuid
from pathlib import Path

from psycopg import sql

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.mysql_sync import SyncOptions, sync_tables

INIT_SQL = Path(__file__).resolve().parents[1] / "shutter_assets" / "simulator" / "init.sql"
COLUMNS = (
    "id_ligne, id_commande, id_produit, largeur_mm, hauteur_mm, coloris, quantite,"
    " prix_unitaire, date_maj"
)
PG_TABLE = """
    create table {} (
        id_ligne integer primary key, id_commande integer, id_produit integer,
        largeur_mm integer, hauteur_mm integer, coloris text, quantite integer,
        prix_unitaire numeric(10,2), date_maj timestamptz
    )
"""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mysql_exec(settings: MySQLSettings, statements: list[str], database: str | None = "") -> None:
    conn = settings.connect(database=database, autocommit=True)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def build_source(settings: MySQLSettings, rows: int) -> None:
    text = "\n".join(
        line for line in INIT_SQL.read_text().splitlines() if not line.strip().startswith("--")
    )
    mysql_exec(settings, [s for s in text.split(";\n") if s.strip()])
    select = (
        "SELECT seq, seq DIV 4 + 1, seq MOD 50 + 1, 500 + seq MOD 2000, 400 + seq MOD 2500,"
        " ELT(seq MOD 4 + 1, 'BLANC', 'GRIS ANTHRACITE', 'IVOIRE', 'CHÊNE DORÉ'), 1 + seq MOD 5,"
        " ROUND((seq MOD 50000) / 100, 2), TIMESTAMP('2024-01-01') + INTERVAL seq MINUTE"
    )
    insert = f"INSERT INTO lignes_commande ({COLUMNS}) "
    try:  # MariaDB's sequence engine
        mysql_exec(settings, [insert + select + f" FROM seq_1_to_{rows}"])
    except Exception:  # MySQL 8: a recursive CTE
        mysql_exec(
            settings,
            [
                f"SET SESSION cte_max_recursion_depth = {rows + 1}",
                insert
                + "WITH RECURSIVE s (seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s"
                + f" WHERE seq < {rows}) "
                + select
                + " FROM s",
            ],
        )
    mysql_exec(settings, ["ANALYZE TABLE lignes_commande"])


def steady_state_run(
    mysql: MySQLSettings, pg: PostgresSettings, rows: int, step: int, options: SyncOptions
) -> tuple[float, object]:
    """One scheduled run 15 minutes after the previous one, after a typical quarter of an hour
    at the ERP: 100 rows updated, one order edited (its 3 lines hard-deleted)."""
    updated = ", ".join(str((step * 7919 + k * 9973) % rows + 1) for k in range(100))
    order = (step * 104_729) % (rows // 4) + 1
    mysql_exec(
        mysql,
        [
            f"UPDATE lignes_commande SET quantite = quantite + 1 WHERE id_ligne IN ({updated})",
            f"DELETE FROM lignes_commande WHERE id_commande = {order}",
        ],
    )
    with pg.connect() as conn:  # the previous run was 15 minutes ago (time-shifted, not slept)
        conn.execute(
            "update raw_commandes._sync_state set last_synced_at = now() - interval '15 minutes'"
            " where table_name = 'lignes_commande'"
        )
    elapsed, results = timed(lambda: sync_tables(mysql, pg, ["lignes_commande"], options))
    return elapsed, results["lignes_commande"]


def _span(ranges: list[tuple[int, int]]) -> str:
    """Key ranges in short: how many keys, in how many ranges."""
    keys = sum(hi - lo + 1 for lo, hi in ranges)
    return f"{keys:,} keys in {len(ranges)} range{'s' if len(ranges) != 1 else ''}"


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def limit_pipeline(mysql: MySQLSettings, pg: PostgresSettings) -> float:
    with pg.connect(autocommit=True) as conn:
        conn.execute("create schema bench_limit")
        conn.execute(sql.SQL(PG_TABLE).format(sql.Identifier("bench_limit", "lignes_commande")))
    env = dict(os.environ, MYSQL_PWD=mysql.password, PGPASSWORD=pg.password, PGTZ="UTC")
    mysql_cmd = [
        "mysql",
        f"--host={mysql.host}",
        f"--port={mysql.port}",
        f"--user={mysql.user}",
        "--batch",
        "--skip-column-names",
        "--init-command=SET time_zone = '+00:00'",
        mysql.database,
        "-e",
        f"SELECT {COLUMNS} FROM lignes_commande",
    ]
    psql_cmd = [
        "psql",
        f"--host={pg.host}",
        f"--port={pg.port}",
        f"--username={pg.user}",
        f"--dbname={pg.dbname}",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "\\copy bench_limit.lignes_commande from stdin with (null 'NULL')",
    ]
    command = " | ".join(shlex.join(c) for c in (mysql_cmd, psql_cmd))
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, env=env)
    return time.perf_counter() - started


def naive_pipeline(mysql: MySQLSettings, pg: PostgresSettings, rows: int) -> float:
    import pandas as pd
    import sqlalchemy as sa

    source = sa.create_engine(
        sa.URL.create(
            "mysql+pymysql",
            username=mysql.user,
            password=mysql.password or None,
            host=mysql.host,
            port=mysql.port,
            database=mysql.database,
            query={"charset": "utf8mb4"},
        )
    )
    target = sa.create_engine(
        sa.URL.create(
            "postgresql+psycopg",
            username=pg.user,
            password=pg.password or None,
            host=pg.host,
            port=pg.port,
            database=pg.dbname,
        )
    )
    try:
        started = time.perf_counter()
        frame = pd.read_sql(
            f"SELECT {COLUMNS} FROM lignes_commande ORDER BY id_ligne LIMIT {rows}", source
        )
        frame.to_sql(
            "lignes_commande",
            target,
            schema="public",
            if_exists="replace",
            index=False,
            method="multi",
            chunksize=1000,
        )
        return time.perf_counter() - started
    finally:
        source.dispose()
        target.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=SyncOptions().workers)
    args = parser.parse_args()

    base_mysql = MySQLSettings.from_env()
    base_pg = PostgresSettings.from_env()
    name = f"bench_mysql_{uuid.uuid4().hex[:8]}"
    mysql = MySQLSettings(
        base_mysql.host, base_mysql.port, base_mysql.user, base_mysql.password, name
    )
    pg = base_pg.with_db(name)
    pg_admin = base_pg.with_db("postgres")

    mysql_exec(base_mysql, [f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"], database=None)
    with pg_admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        print(f"building {args.rows:,} rows of lignes_commande in MySQL database {name} ...")
        build_s, _ = timed(lambda: build_source(mysql, args.rows))
        print(f"  built in {build_s:.1f} s")

        # (a) twice, from an empty mirror each time: one stream, then parallel PK ranges.
        a_runs = {}
        for workers in sorted({1, args.workers}):
            with pg.connect(autocommit=True) as conn:
                conn.execute("drop schema if exists raw_commandes cascade")
            options = SyncOptions(workers=workers, parallel_min_rows=1)
            rss_before = rss_mb()
            a_s, a = timed(lambda o=options: sync_tables(mysql, pg, ["lignes_commande"], o))
            a = a["lignes_commande"]
            assert a.inserted == args.rows, f"(a) loaded {a.inserted} rows, expected {args.rows}"
            a_runs[workers] = (a_s, a, rss_before, rss_mb())
        a_s, a, rss_before, rss_after = a_runs[args.workers]
        b_s, b = timed(lambda: sync_tables(mysql, pg, ["lignes_commande"], options))
        b = b["lignes_commande"]
        assert b.mode == "incremental" and b.inserted == b.updated == 0

        # (e) right after (a) and (b), so the machine's load is as alike as it can be
        e_runs = {}
        for step, (label, opts) in enumerate(
            [
                ("(e2) + deletes", SyncOptions(reconcile_interval_s=10**9)),
                ("(e3) + content check", SyncOptions()),
                ("(e4) content every run", SyncOptions(reconcile_interval_s=0)),
            ],
            start=2,
        ):
            e_runs[label] = steady_state_run(mysql, pg, args.rows, step, opts)
        # (c) and (d) read the source as (e) left it
        with pg.connect() as conn:
            live_rows = conn.execute(
                "select count(*) from raw_commandes.lignes_commande where _deleted_at is null"
            ).fetchone()[0]
        c_s = limit_pipeline(mysql, pg)
        with pg.connect() as conn:
            c_rows = conn.execute("select count(*) from bench_limit.lignes_commande").fetchone()[0]
        assert c_rows == live_rows, f"(c) loaded {c_rows} rows, the source has {live_rows}"

        naive_rows = min(args.naive_rows, args.rows)
        d_s = naive_pipeline(mysql, pg, naive_rows)
        with pg.connect() as conn:
            d_rows = conn.execute("select count(*) from public.lignes_commande").fetchone()[0]
        assert d_rows == naive_rows, f"(d) loaded {d_rows} rows"

        a_rate, c_rate, d_rate = args.rows / a_s, live_rows / c_s, naive_rows / d_s
        print()
        print(f"rows: {args.rows:,}; (a) and (b) with workers={args.workers}")
        for workers, (w_s, w, _, _) in sorted(a_runs.items()):
            print(
                f"(a) our full load, {w.workers} worker{'s' if w.workers > 1 else ' '}"
                f" {w_s:8.2f} s  {args.rows / w_s:12,.0f} rows/s"
                + ("   <- (a) below" if workers == args.workers else "")
            )
        print(
            f"(b) incremental, no change {b_s:8.2f} s  ({b.rows_read} rows re-read in the "
            "overlap window, 0 written)"
        )
        for label, (e_s, e) in e_runs.items():
            print(
                f"{label:26} {e_s:8.2f} s  = {e_s / a_s:6.1%} of (a)  (+{e.inserted} ~{e.updated}"
                f" -{e.deleted}; content compared for keys {_span(e.content_checked_keys)},"
                f" re-read {_span(e.reread_keys)})"
            )
        print(f"(c) mysql --batch | \\copy  {c_s:8.2f} s  {c_rate:12,.0f} rows/s")
        print(
            f"(d) pandas read_sql+to_sql {d_s:8.2f} s  {d_rate:12,.0f} rows/s  "
            f"(measured on {naive_rows:,} rows, rate extrapolated to the table)"
        )
        print(
            f"peak RSS of the process: {rss_before:.0f} MB before (a), {rss_after:.0f} MB after"
            " (batches of fetch_rows rows, bounded queue: flat in the table size)"
        )
        print()
        goals = [
            ("(a) / (c)", a_rate / c_rate, ">= 0.5", a_rate / c_rate >= 0.5),
            ("(a) / (d)", a_rate / d_rate, ">= 20", a_rate / d_rate >= 20),
            ("(b) / (a)", b_s / a_s, "< 0.05", b_s / a_s < 0.05),
        ]
        e2_s = e_runs["(e2) + deletes"][0]
        e3_s = e_runs["(e3) + content check"][0]
        goals += [
            ("(e2) / (a)", e2_s / a_s, "<= 0.10", e2_s / a_s <= 0.10),
            ("(e3) / (a)", e3_s / a_s, "<= 0.15", e3_s / a_s <= 0.15),
        ]
        for label, ratio, goal, ok in goals:
            print(f"{label} = {ratio:8.3f}   goal {goal:7}  {'met' if ok else 'NOT MET'}")
    finally:
        mysql_exec(base_mysql, [f"DROP DATABASE IF EXISTS `{name}`"], database=None)
        with pg_admin.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    main()
