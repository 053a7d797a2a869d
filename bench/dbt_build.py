"""Benchmark: full ``dbt build`` on >= 10 M machine events, then an incremental rebuild after 1 %.

Generates the events straight into ``raw.machine_events`` of a uniquely named database with SQL
``generate_series`` (5 machines, files of ``--events-per-file`` events, a 20-event pattern per
machine: states, cycles, scrap, an alarm and a DOWN), times ``dbt build`` (all models, seeds and
tests), appends 1 % more files continuing each machine's timeline (the last state of each machine
is open across the batch boundary), times the incremental ``dbt build``, prints both and the
ratio (goal: incremental < 10 % of full), the slowest nodes of each build by dbt's own timing
(``run_results.json``), and drops the database.

    .venv/bin/python bench/dbt_build.py                 # 10 M events
    .venv/bin/python bench/dbt_build.py --events 1000000  # quick run while developing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.log_ingest import ensure_raw_schema

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
MACHINES = ["CU-01", "CU-02", "SC-01", "SC-02", "AS-01"]
PROGRAMS = ["LAME-ALU-39", "LAME-ALU-39", "DEBIT-LAME-ALU", "DEBIT-LAME-PVC", "VR-ALU-RADIO"]

# One machine's events, as a function of its running event number n (10 s apart) and its file.
EVENTS_SQL = """
insert into raw.machine_events (file_id, line_no, machine_id, event_type, event_local_ts,
    event_at, order_ref, program, value_text, value_num, message)
select
    f.file_id,
    l.line + 2,
    f.machine_id,
    case p.k when 0 then 'STATE' when 13 then 'SCRAP' when 14 then 'ALARM' when 15 then 'STATE'
             when 16 then 'ALARM_CLEAR' when 17 then 'STATE' when 18 then 'STATE'
             when 19 then 'OPERATOR'
             else case when p.k %% 2 = 1 then 'CYCLE_START' else 'CYCLE_END' end end,
    (t.at at time zone 'Europe/Paris')::timestamp(3),
    t.at,
    case when p.k between 1 and 13 then 'CMD-2026-' || lpad((n.n / 2000)::text, 6, '0') end,
    case when p.k between 1 and 13 then f.program end,
    case p.k when 0 then 'RUNNING' when 15 then 'DOWN' when 17 then 'SETUP' when 18 then 'IDLE'
             when 14 then 'E1042' when 16 then 'E1042' when 19 then 'B042'
             when 13 then '1'
             else case when p.k %% 2 = 0 then '4' end end,
    case when p.k = 13 then 1 when p.k between 1 and 12 and p.k %% 2 = 0 then 4 end,
    case p.k when 14 then 'Défaut broche' end
from raw.ingested_files as f
cross join generate_series(0, %(per_file)s::int - 1) as l(line)
cross join lateral (select f.seq * %(per_file)s + l.line as n) as n
cross join lateral (select (n.n %% 20)::int as k) as p
cross join lateral (
    select timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => n.n * 10) as at
) as t
where f.file_id between %(first)s::bigint and %(last)s::bigint
"""


ORDERS_DDL = """
create schema if not exists raw_commandes;
create table raw_commandes.clients (id_client integer primary key, raison_sociale text, ville text,
    code_postal text, email text, date_creation timestamp, date_maj timestamptz,
    _synced_at timestamptz, _deleted_at timestamptz);
create table raw_commandes.produits (id_produit integer primary key, reference text, libelle text,
    type_lame text, motorisation text, prix_m2 numeric(10, 2), actif smallint,
    _synced_at timestamptz, _deleted_at timestamptz);
create table raw_commandes.commandes (id_commande integer primary key, numero text,
    id_client integer, date_commande timestamp, date_livraison_prevue date, statut text,
    montant_ht numeric(12, 2), commentaire text, date_maj timestamptz, _synced_at timestamptz,
    _deleted_at timestamptz);
create table raw_commandes.lignes_commande (id_ligne integer primary key, id_commande integer,
    id_produit integer, largeur_mm integer, hauteur_mm integer, coloris text, quantite integer,
    prix_unitaire numeric(10, 2), date_maj timestamptz, _synced_at timestamptz,
    _deleted_at timestamptz);
insert into raw_commandes.clients select g, 'Client ' || g, 'Lyon', '69003', null,
    '2025-01-01', now(), now(), null from generate_series(1, 200) as g;
insert into raw_commandes.produits values
    (1, 'VR-ALU-RADIO', 'Volet alu radio', 'ALU', 'RADIO', 179.50, 1, now(), null);
insert into raw_commandes.commandes select g, 'CMD-2026-' || lpad(g::text, 6, '0'),
    g % 200 + 1, '2026-01-01', date '2026-01-15' + g / 20, 'EN_PRODUCTION', 1000, null, now(),
    now(), null from generate_series(0, 6000) as g;
insert into raw_commandes.lignes_commande select g, g, 1, 1000, 1200, 'Blanc', 10, 100, now(),
    now(), null from generate_series(0, 6000) as g;
"""


def dbt_build(pg: PostgresSettings, target: Path) -> float:
    env = {**os.environ, "POSTGRES_DB": pg.dbname, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [str(DBT), "build", "--project-dir", str(PROJECT_DIR), "--profiles-dir",
           str(PROJECT_DIR), "--target-path", str(target), "--quiet"]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed on {pg.dbname}:\n{proc.stdout[-3000:]}")
    return elapsed


def slowest_nodes(target: Path, count: int) -> list[tuple[float, str]]:
    """The ``count`` longest nodes of the last dbt run, from dbt's ``run_results.json``.

    Returns ``(seconds, unique_id)`` pairs, longest first (dbt's own ``execution_time``).
    """
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = [(float(r["execution_time"]), r["unique_id"]) for r in results]
    return sorted(timed, reverse=True)[:count]


def add_files(conn, first: int, count: int, per_file: int) -> None:
    """Register ``count`` loaded files from ``first`` on, machines in turn, then their events.

    Foreign-key triggers are skipped for this session (the generated rows are consistent by
    construction); that needs the superuser the local server gives.
    """
    conn.execute("set session_replication_role = replica")
    conn.execute(
        """
        insert into raw.ingested_files (file_id, path, size_bytes, sha256, status, line_count,
            event_count, reject_count, run_id)
        overriding system value
        select g, 'bench/' || g || '.log', 0, md5(g::text || %(salt)s), 'loaded',
            %(per_file)s + 1, %(per_file)s, 0, 'bench'
        from generate_series(%(first)s::bigint, %(last)s::bigint) as g
        """,
        {"first": first, "last": first + count - 1, "per_file": per_file, "salt": "b"},
    )
    conn.execute(
        EVENTS_SQL.replace("f.seq", "((f.file_id - 1) / 5)")
        .replace("f.machine_id", "(%(machines)s::text[])[(f.file_id - 1) %% 5 + 1]")
        .replace("f.program", "(%(programs)s::text[])[(f.file_id - 1) %% 5 + 1]"),
        {
            "per_file": per_file,
            "first": first,
            "last": first + count - 1,
            "machines": MACHINES,
            "programs": PROGRAMS,
        },
    )
    conn.execute("analyze raw.ingested_files; analyze raw.machine_events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--events-per-file", type=int, default=10_000)
    parser.add_argument("--increment", type=float, default=0.01)
    parser.add_argument("--keep", action="store_true", help="keep the database (to inspect)")
    parser.add_argument("--slowest", type=int, default=12, help="nodes listed per build")
    args = parser.parse_args()
    per_file = args.events_per_file
    files = -(-args.events // per_file)
    files += (-files) % 5  # whole rounds of the 5 machines
    new_files = max(5, round(files * args.increment / 5) * 5)

    server = PostgresSettings.from_env().with_db("postgres")
    pg = server.with_db(f"bench_dbt_{uuid.uuid4().hex[:10]}")
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(pg.dbname)))
    try:
        with pg.connect(autocommit=True) as conn:
            ensure_raw_schema(conn)
            conn.execute(ORDERS_DDL)
            started = time.perf_counter()
            add_files(conn, 1, files, per_file)
            print(f"generated {files * per_file:,} events in {files} files "
                  f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
        with tempfile.TemporaryDirectory() as target:
            full = dbt_build(pg, Path(target))
            print(f"full dbt build:        {full:8.1f} s")
            full_nodes = slowest_nodes(Path(target), args.slowest)
            with pg.connect(autocommit=True) as conn:
                add_files(conn, files + 1, new_files, per_file)
            print(f"+{new_files * per_file:,} events in {new_files} new files "
                  f"({new_files / files:.1%})")  # fmt: skip
            incremental = dbt_build(pg, Path(target))
            print(f"incremental dbt build: {incremental:8.1f} s")
            incremental_nodes = slowest_nodes(Path(target), args.slowest)
            for label, nodes in (("full", full_nodes), ("incremental", incremental_nodes)):
                print(f"slowest nodes of the {label} build (dbt execution_time):")
                for seconds, node in nodes:
                    print(f"  {seconds:8.2f} s  {node}")
            print(f"ratio incremental/full: {incremental / full:.1%} (goal < 10 %)")
    finally:
        if args.keep:
            print(f"kept database {pg.dbname}")
        else:
            with server.connect(autocommit=True) as conn:
                drop = sql.SQL("drop database if exists {} with (force)")
                conn.execute(drop.format(sql.Identifier(pg.dbname)))


if __name__ == "__main__":
    main()
