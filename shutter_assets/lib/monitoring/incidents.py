"""Incidents and their notifications, kept in PostgreSQL so an alert goes out once.

No Dagster here. The sensors report what they see; this module decides what to tell a person:

* An **incident** is one thing that is wrong (a pipeline whose runs fail, a failing check, one
  silent machine, one stuck file, a sensor whose ticks fail), keyed by ``incident_key``. Its
  ``source`` is the unit that was evaluated (a check, a pipeline, a sensor) so that a source
  evaluated again without that key resolves it.
* Opening an incident already open changes nothing (ticks, retries and daemon restarts repeat
  observations, never alerts). Opening a resolved one starts a new ``episode``.
* Observations are ordered by their own instant (``now``: a run's end, a tick's time), not by
  the order they arrive in: one older than the newest already applied to an incident
  (``last_seen_at``) is ignored. Two sensors reporting a run's failure and a later run's success
  may so be handled in either order, before or after a daemon restart, with the same result.
  ``record_recovery`` remembers a success even when nothing is open (an ``episode`` 0 row, never
  alerted), so a failure older than it that is handled later opens nothing.
* ``flush`` sends, per configured channel, one ``firing`` message per episode and one
  ``resolved`` message once its firing message went out (an incident that cleared before anyone
  was told is not reported at all). At most ``rate_limit_per_hour`` messages per channel per
  hour; the rest stay pending for the next hour. A failed delivery is retried at each flush up
  to ``max_delivery_attempts``, then given up and reported in the flush result.
* Delivery is at least once: a process killed between the SMTP/HTTP hand-over and the commit of
  its delivery row sends that one message again after the restart; never more than that.

Tables (schema ``monitoring`` of the warehouse): ``alert_incidents`` and ``alert_deliveries``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.monitoring.channels import Channel, DeliveryError, Message
from shutter_assets.lib.monitoring.redact import redact
from shutter_assets.lib.monitoring.settings import AlertSettings

SCHEMA = "monitoring"
_DDL_LOCK = 0x5348_5554_0015
_FLUSH_LOCK = 0x5348_5554_0016
DDL = """
create schema if not exists monitoring;
create table if not exists monitoring.alert_incidents (
    incident_key text primary key,
    source text not null,
    kind text not null,
    subject text not null,
    details text not null,
    episode int not null default 1,
    opened_at timestamptz not null,
    -- instant of the newest observation applied (by its source's clock): older ones are ignored
    last_seen_at timestamptz not null,
    resolved_at timestamptz
);
create index if not exists alert_incidents_source_idx
    on monitoring.alert_incidents (source) where resolved_at is null;
create table if not exists monitoring.alert_deliveries (
    incident_key text not null references monitoring.alert_incidents on delete cascade,
    episode int not null,
    transition text not null check (transition in ('firing', 'resolved')),
    channel text not null,
    status text not null check (status in ('sent', 'pending', 'failed')),
    attempts int not null default 0,
    last_error text,
    sent_at timestamptz,
    updated_at timestamptz not null,
    primary key (incident_key, episode, transition, channel)
);
create index if not exists alert_deliveries_sent_idx
    on monitoring.alert_deliveries (channel, sent_at) where status = 'sent';
comment on table monitoring.alert_incidents is
    'One row per thing that went wrong (docs/operations.md); episode counts its recurrences.';
comment on table monitoring.alert_deliveries is
    'Which alert and recovery messages went out on which channel, so none is sent twice.';
"""


@dataclass(frozen=True)
class Incident:
    """What a sensor observed as wrong now. ``details`` is plain text, secrets are masked."""

    key: str
    source: str
    kind: str
    subject: str
    details: str


@dataclass
class FlushResult:
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, transition, key)
    held_back: int = 0
    errors: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IncidentStore:
    """The incident table of one warehouse; every method opens its own short connection."""

    def __init__(self, pg: PostgresSettings, settings: AlertSettings) -> None:
        self.pg = pg
        self.settings = settings

    def ensure_schema(self) -> None:
        """Create the two tables if missing; a cheap lookup when they exist (every tick)."""
        with self.pg.connect() as conn:
            if conn.execute("select to_regclass('monitoring.alert_deliveries')").fetchone()[0]:
                return
            conn.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            conn.execute(DDL)

    # -- observations ----------------------------------------------------------------------

    def observe(
        self,
        incidents: Iterable[Incident],
        *,
        evaluated_sources: Iterable[str] = (),
        now: datetime | None = None,
    ) -> tuple[list[str], list[str]]:
        """Record what is wrong as of ``now``; resolve what ``evaluated_sources`` no longer report.

        Returns (keys opened or reopened, keys resolved). A source not in ``evaluated_sources``
        (not evaluated this time, e.g. a check still running) keeps its open incidents. An
        incident whose newest applied observation is later than ``now`` is left as it is.
        """
        now = now or _utcnow()
        current = {i.key: i for i in incidents}
        sources = set(evaluated_sources) | {i.source for i in current.values()}
        opened: list[str] = []
        resolved: list[str] = []
        with self.pg.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            for incident in current.values():
                if self._open(cur, incident, now):
                    opened.append(incident.key)
            if sources:
                rows = cur.execute(
                    "update monitoring.alert_incidents set resolved_at = %s, last_seen_at = %s "
                    "where resolved_at is null and source = any(%s) "
                    "and not (incident_key = any(%s)) and last_seen_at <= %s "
                    "returning incident_key",
                    (now, now, sorted(sources), sorted(current), now),
                ).fetchall()
                resolved = sorted(r["incident_key"] for r in rows)
        return opened, resolved

    def record_recovery(self, key: str, kind: str, now: datetime | None = None) -> bool:
        """The incident ``key`` (one whose key is its source: a job's runs) is over as of ``now``.

        Resolves it when open and no later observation is known; when none is open, remembers
        ``now`` so that an older failure handled afterwards opens nothing. Returns True when an
        open incident was resolved (its recovery message is then pending).
        """
        now = now or _utcnow()
        with self.pg.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = self._locked(cur, key)
            if row is None:
                cur.execute(
                    "insert into monitoring.alert_incidents (incident_key, source, kind, "
                    "subject, details, episode, opened_at, last_seen_at, resolved_at) "
                    "values (%s, %s, %s, %s, '', 0, %s, %s, %s) "
                    "on conflict (incident_key) do nothing",
                    (key, key, kind, f"{key} recovered", now, now, now),
                )
                if cur.rowcount == 1:
                    return False
                row = self._locked(cur, key)
            if row["last_seen_at"] > now:
                return False
            cur.execute(
                "update monitoring.alert_incidents set last_seen_at = %s, "
                "resolved_at = coalesce(resolved_at, %s) where incident_key = %s",
                (now, now, key),
            )
            return row["resolved_at"] is None

    @staticmethod
    def _locked(cur: psycopg.Cursor, key: str) -> dict | None:
        return cur.execute(
            "select resolved_at, last_seen_at from monitoring.alert_incidents "
            "where incident_key = %s for update",
            (key,),
        ).fetchone()

    @classmethod
    def _open(cls, cur: psycopg.Cursor, incident: Incident, now: datetime) -> bool:
        subject = redact(incident.subject)
        details = redact(incident.details)
        row = cls._locked(cur, incident.key)
        if row is None:
            cur.execute(
                "insert into monitoring.alert_incidents (incident_key, source, kind, subject, "
                "details, opened_at, last_seen_at) values (%s, %s, %s, %s, %s, %s, %s) "
                "on conflict (incident_key) do nothing",
                (incident.key, incident.source, incident.kind, subject, details, now, now),
            )
            if cur.rowcount == 1:
                return True
            row = cls._locked(cur, incident.key)  # opened concurrently by another sensor
        if row["last_seen_at"] > now:
            return False  # a later observation (a later run's success) is already applied
        if row["resolved_at"] is None:
            cur.execute(
                "update monitoring.alert_incidents set last_seen_at = %s where incident_key = %s",
                (now, incident.key),
            )
            return False
        cur.execute(
            "update monitoring.alert_incidents set episode = episode + 1, subject = %s, "
            "details = %s, source = %s, kind = %s, opened_at = %s, last_seen_at = %s, "
            "resolved_at = null where incident_key = %s",
            (subject, details, incident.source, incident.kind, now, now, incident.key),
        )
        return True

    def open_incidents(self) -> list[dict]:
        with self.pg.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "select * from monitoring.alert_incidents where resolved_at is null "
                "order by opened_at, incident_key"
            ).fetchall()

    # -- notifications ---------------------------------------------------------------------

    def flush(self, channels: Sequence[Channel], now: datetime | None = None) -> FlushResult:
        """Send what is pending on each channel, within the rate limit (see module docstring).

        Only one flush runs at a time (advisory lock); a concurrent call returns at once with an
        empty result, the running one sends everything.
        """
        now = now or _utcnow()
        result = FlushResult()
        if not channels:
            return result
        with self.pg.connect(autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
            if not cur.execute("select pg_try_advisory_lock(%s) as ok", (_FLUSH_LOCK,)).fetchone()[
                "ok"
            ]:
                return result
            try:
                for channel in channels:
                    self._flush_channel(cur, channel, now, result)
            finally:
                cur.execute("select pg_advisory_unlock(%s)", (_FLUSH_LOCK,))
        return result

    def _flush_channel(
        self, cur: psycopg.Cursor, channel: Channel, now: datetime, result: FlushResult
    ) -> None:
        sent_last_hour = cur.execute(
            "select count(*) as n from monitoring.alert_deliveries "
            "where channel = %s and status = 'sent' and sent_at > %s",
            (channel.name, now - timedelta(hours=1)),
        ).fetchone()["n"]
        budget = max(0, self.settings.rate_limit_per_hour - sent_last_hour)
        pending = cur.execute(_PENDING_SQL, {"channel": channel.name}).fetchall()
        for row in pending:
            if budget <= 0:
                result.held_back += 1
                continue
            message = self._message(row)
            try:
                channel.send(message)
            except DeliveryError as exc:
                error = redact(str(exc))
                attempts = row["attempts"] + 1
                status = "failed" if attempts >= self.settings.max_delivery_attempts else "pending"
                self._record(cur, row, channel.name, status, attempts, error, None, now)
                result.errors.append(f"{channel.name}: {row['incident_key']}: {error}")
                if status == "failed":
                    result.given_up.append(f"{channel.name}: {row['incident_key']}")
                continue
            self._record(cur, row, channel.name, "sent", row["attempts"] + 1, None, now, now)
            result.sent.append((channel.name, row["transition"], row["incident_key"]))
            budget -= 1

    @staticmethod
    def _record(cur, row, channel, status, attempts, error, sent_at, now) -> None:
        cur.execute(
            "insert into monitoring.alert_deliveries (incident_key, episode, transition, "
            "channel, status, attempts, last_error, sent_at, updated_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (incident_key, episode, transition, channel) do update set "
            "status = excluded.status, attempts = excluded.attempts, "
            "last_error = excluded.last_error, sent_at = excluded.sent_at, "
            "updated_at = excluded.updated_at",
            (
                row["incident_key"],
                row["episode"],
                row["transition"],
                channel,
                status,
                attempts,
                error,
                sent_at,
                now,
            ),
        )

    def _message(self, row: dict) -> Message:
        s = self.settings
        firing = row["transition"] == "firing"
        word = "ALERT" if firing else "RESOLVED"
        opened = row["opened_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        resolved = (
            row["resolved_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if row["resolved_at"]
            else None
        )
        lines = [
            row["details"] if firing else f"Cleared: {row['subject']}",
            "",
            f"Since: {opened}",
        ]
        if resolved and not firing:
            lines.append(f"Cleared at: {resolved}")
        lines.append(f"Incident: {row['incident_key']} (episode {row['episode']})")
        if s.ui_url:
            lines.append(f"Dagster UI: {s.ui_url}")
        return Message(
            incident_key=row["incident_key"],
            status="firing" if firing else "resolved",
            subject=redact(f"{s.subject_prefix} {word}: {row['subject']}"),
            body=redact("\n".join(lines)),
            opened_at=opened,
            resolved_at=resolved,
        )


# Firing messages for open episodes; recovery messages for resolved episodes whose firing
# message went out on this channel. Deliveries already sent or given up are not pending.
_PENDING_SQL = """
with candidates as (
    select i.*, 'firing' as transition, i.opened_at as due_at
    from monitoring.alert_incidents as i
    where i.resolved_at is null
    union all
    select i.*, 'resolved' as transition, i.resolved_at as due_at
    from monitoring.alert_incidents as i
    where i.resolved_at is not null
      and exists (
          select 1 from monitoring.alert_deliveries as d
          where d.incident_key = i.incident_key and d.episode = i.episode
            and d.transition = 'firing' and d.channel = %(channel)s and d.status = 'sent'
      )
),

final as (
    select candidates.*, coalesce(d.attempts, 0) as attempts
    from candidates
    left join monitoring.alert_deliveries as d
        on d.incident_key = candidates.incident_key
        and d.episode = candidates.episode
        and d.transition = candidates.transition
        and d.channel = %(channel)s
    where coalesce(d.status, 'pending') = 'pending'
)

select * from final order by due_at, incident_key
"""
