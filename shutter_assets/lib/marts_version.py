"""The marts' data version: one new value per recorded build, read by the REST API's cache.

The REST API (``shutter_api``, DESIGN.md section 8) caches every response under this version, so
recording a new one after the marts are rebuilt invalidates every cached response at once, with
no TTL to guess. The Dagster asset ``api/marts_data_version`` calls ``record_marts_version``
downstream of every mart. The tables live in ``marts`` because the API's role may read nothing
else:

- ``marts.data_version``: one row (``version``, ``built_at``, ``run_id``), replaced per record;
- a notification on channel ``shutter_marts_version`` (payload: JSON ``version``, ``built_at``)
  at commit, so the API's processes learn the new version without asking on every request;
- ``marts.machine_freshness``: per machine, the newest event the marts were built from
  (``newest_event_at``, the end of the machine's open state interval in
  ``intermediate.int_machine_state_intervals``: its latest event seen so far) and
  ``recorded_at``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

_DDL = """
create schema if not exists marts;
create table if not exists marts.data_version (
    singleton boolean primary key default true check (singleton),
    version text not null,
    built_at timestamptz not null,
    run_id text
);
comment on table marts.data_version is
    'Version of the marts, replaced after each build (REST API cache key; api/marts_data_version).';
create table if not exists marts.machine_freshness (
    machine_id text primary key,
    newest_event_at timestamptz,
    recorded_at timestamptz not null
);
comment on table marts.machine_freshness is
    'Per machine, the newest event the marts were last built from (api/marts_data_version).';
"""

NOTIFY_CHANNEL = "shutter_marts_version"

_NEWEST_EVENTS = """
insert into marts.machine_freshness (machine_id, newest_event_at, recorded_at)
select machines.machine_id, latest.ended_at, %(now)s
from marts.dim_machine as machines
left join lateral (
    select intervals.ended_at
    from intermediate.int_machine_state_intervals as intervals
    where intervals.machine_id = machines.machine_id
    order by intervals.started_at desc
    limit 1
) as latest on true
"""


@dataclass(frozen=True)
class MartsVersion:
    version: str
    built_at: datetime
    machines: int


def record_marts_version(conn: psycopg.Connection, run_id: str | None = None) -> MartsVersion:
    """Replace the data version (a fresh random value) and the machines' freshness, atomically.

    A new value every time, even when the build changed nothing: a spurious miss costs one
    query, a missed change would serve stale figures. Needs ``marts.dim_machine`` and
    ``intermediate.int_machine_state_intervals`` (built by dbt); one transaction on ``conn``.
    """
    version = uuid.uuid4().hex
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('shutter_marts_data_version'))")
        conn.execute(_DDL)
        now = conn.execute("select now()").fetchone()[0]
        conn.execute("delete from marts.machine_freshness")
        machines = conn.execute(_NEWEST_EVENTS, {"now": now}).rowcount
        conn.execute(
            "insert into marts.data_version (version, built_at, run_id) values (%s, %s, %s) "
            "on conflict (singleton) do update set version = excluded.version, "
            "built_at = excluded.built_at, run_id = excluded.run_id",
            (version, now, run_id),
        )
        payload = json.dumps({"version": version, "built_at": now.isoformat()})
        conn.execute("select pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))
    return MartsVersion(version, now, machines)
