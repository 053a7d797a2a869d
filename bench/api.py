"""Benchmark: the REST API under load - /health, cached and uncached week-OEE over a year.

    .venv/bin/python bench/api.py                          # 24 machines x 365 days, 50 conn, 20 s
    .venv/bin/python bench/api.py --duration 3             # a quick look

Goals (issue 13): cached week-OEE p99 < 50 ms at 50 connections; cached throughput >= 0.5 x
/health's (the framework's floor, measured in the same run); an uncached year of week-OEE for all
machines < 200 ms.

The marts are generated directly in a temporary database (``machine_oee_daily`` and
``dim_machine`` rows with the contract's columns, one per machine-day, plus a recorded data
version): the API only reads marts, so building them through dbt would measure dbt, not the API.
The API runs as ``python -m shutter_api`` (one uvicorn worker unless --workers) with the machine's
Redis under a unique key prefix; the load comes from ``wrk`` (Debian package ``wrk``) in a second
process on loopback. Uncached figures come from a second API process without Redis: sequential
requests (the latency one client sees) and ``wrk`` with a different range per request so the
in-process single-flight cannot share work between them.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from shutter_api.keys import digest  # noqa: E402
from tests.fixtures.api_server import SHARED_REDIS, delete_prefix, run_api  # noqa: E402
from tests.fixtures.databases import create_pg_database, drop_pg_database  # noqa: E402

YEAR_FROM, YEAR_TO = "2025-12-01", "2026-11-30"
MARTS = """
create schema marts;
create table marts.dim_machine as
select
    m.machine_id,
    m.machine_type,
    m.machine_type || ' machines' as machine_type_label,
    'Machine ' || m.machine_id as machine_label,
    true as is_in_reference,
    %(start)s::date as first_production_date,
    %(start)s::date + %(days)s - 1 as last_production_date
from (
    select
        (array['CU', 'SC', 'AS'])[1 + i %% 3] || '-' || lpad((i / 3 + 1)::text, 2, '0')
            as machine_id,
        (array['CU', 'SC', 'AS'])[1 + i %% 3] as machine_type
    from generate_series(0, %(machines)s - 1) as i
) as m;
create table marts.machine_oee_daily as
with days as (
    select
        machines.machine_id,
        %(start)s::date + d as production_date,
        round((20000 + random() * 8000)::numeric, 3) as run_s,
        round((random() * 3000)::numeric, 3) as setup_s,
        round((random() * 4000)::numeric, 3) as down_s,
        round((random() * 5000)::numeric, 3) as idle_s,
        (500 + floor(random() * 400))::numeric as produced_qty,
        floor(random() * 30)::numeric as scrap_qty
    from marts.dim_machine as machines
    cross join generate_series(0, %(days)s - 1) as d
)
select
    machine_id,
    production_date,
    run_s + setup_s + down_s + idle_s as planned_busy_s,
    run_s, setup_s, down_s, idle_s,
    produced_qty,
    produced_qty - scrap_qty as good_qty,
    scrap_qty,
    produced_qty * 30 as ideal_run_s,
    run_s / (run_s + setup_s + down_s + idle_s) as availability,
    produced_qty * 30 / run_s as performance,
    (produced_qty - scrap_qty) / produced_qty as quality,
    (produced_qty * 30 / (run_s + setup_s + down_s + idle_s))
        * ((produced_qty - scrap_qty) / produced_qty) as oee
from days;
create unique index on marts.machine_oee_daily (machine_id, production_date);
create table marts.data_version (
    singleton boolean primary key default true, version text not null,
    built_at timestamptz not null, run_id text
);
insert into marts.data_version values (true, md5(random()::text), now(), 'bench');
analyze marts.dim_machine;
analyze marts.machine_oee_daily;
"""
WRK_LUA = """
-- a different one-year range per request: nothing to share between concurrent requests
request = function()
  local shift = math.random(0, 27)
  local path = string.format(
    "/v1/oee?from=2025-12-%%02d&to=2026-11-%%02d&grain=week&group_by=machine&limit=2000",
    1 + shift, 2 + shift)
  return wrk.format("GET", path, {["Authorization"] = "Bearer %s"})
end
"""


def wrk(url: str, key: str | None, connections: int, duration: int, script: Path | None = None):
    """(requests/s, p50 ms, p99 ms, non-2xx) of ``wrk`` hammering ``url``."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if key:
        cmd += ["-H", f"Authorization: Bearer {key}"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, _ms(out, "50%"), _ms(out, "99%"), int(non_2xx.group(1)) if non_2xx else 0


def _ms(out: str, pct: str) -> float:
    value, unit = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def sequential_ms(url: str, key: str, n: int) -> tuple[float, float]:
    """p50 / p99 of ``n`` requests one after the other (a lone client's latency)."""
    timings = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for _ in range(n):
            start = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
    timings.sort()
    return statistics.median(timings), timings[min(n - 1, round(0.99 * (n - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=24)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--sequential", type=int, default=50, help="uncached one-by-one requests")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print(
            "bench/api.py needs wrk, the HTTP load generator (a second process on loopback): "
            "apt-get install wrk",
            file=sys.stderr,
        )
        return 2

    pg = create_pg_database("shutter_bench_api")
    key, prefix = "shk_bench_" + secrets.token_urlsafe(16), f"shutter_bench_{secrets.token_hex(4)}"
    try:
        with pg.connect(autocommit=True) as conn:
            # client-side binding: the script is several statements
            params = {"machines": args.machines, "days": args.days, "start": YEAR_FROM}
            psycopg.ClientCursor(conn).execute(MARTS, params)
            rows = conn.execute("select count(*) from marts.machine_oee_daily").fetchone()[0]
        print(f"marts: {args.machines} machines x {args.days} days = {rows} machine-days")
        env = {
            "POSTGRES_HOST": pg.host,
            "POSTGRES_PORT": str(pg.port),
            "POSTGRES_DB": pg.dbname,
            "API_DB_USER": pg.user,
            "API_DB_PASSWORD": pg.password,
            "API_KEYS": f"bench:{digest(key)}",
            "API_CACHE_PREFIX": prefix,
            "API_DB_POOL_MAX": "10",
        }
        week_oee = f"/v1/oee?from={YEAR_FROM}&to={YEAR_TO}&grain=week&group_by=machine&limit=2000"
        results = {}
        with run_api({**env, "REDIS_URL": SHARED_REDIS}, workers=args.workers) as api:
            body = httpx.get(
                api.base_url + week_oee, headers={"Authorization": f"Bearer {key}"}
            ).json()
            print(f"week-OEE over the year: {body['total']} rows (machine x ISO week)")
            results["/health"] = wrk(
                api.base_url + "/health", None, args.connections, args.duration
            )
            results["week-OEE cached"] = wrk(
                api.base_url + week_oee, key, args.connections, args.duration
            )
        with run_api({**env, "REDIS_URL": ""}, workers=args.workers) as api:
            seq = sequential_ms(api.base_url + week_oee, key, args.sequential)
            with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
                lua.write(WRK_LUA % key)
                lua.flush()
                results["week-OEE uncached"] = wrk(
                    api.base_url, None, args.connections, args.duration, Path(lua.name)
                )
    finally:
        delete_prefix(SHARED_REDIS, prefix)
        drop_pg_database(pg)

    print(f"\n{args.connections} connections, {args.duration} s each, {args.workers} worker(s)")
    print(f"{'endpoint':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name, (rps, p50, p99, bad) in results.items():
        print(f"{name:<22}{rps:>10.0f}{p50:>10.1f}{p99:>10.1f}{bad:>9}")
    print(f"{'uncached, one client':<22}{'':>10}{seq[0]:>10.1f}{seq[1]:>10.1f}")
    health, cached = results["/health"], results["week-OEE cached"]
    ratio = cached[0] / health[0]
    verdict = {True: "ok", False: "MISSED"}
    # on a shared machine every request waits for a CPU, /health too: its own latency is the floor
    p50_ratio, p99_ratio = cached[1] / health[1], cached[2] / health[2]
    print(f"\ncached / /health latency: p50 {p50_ratio:.2f}, p99 {p99_ratio:.2f}")
    print(f"cached p99 {cached[2]:.1f} ms (goal < 50): {verdict[cached[2] < 50]}")
    print(f"cached / /health throughput {ratio:.2f} (goal >= 0.5): {verdict[ratio >= 0.5]}")
    print(f"uncached one-client p99 {seq[1]:.1f} ms (goal < 200): {verdict[seq[1] < 200]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
