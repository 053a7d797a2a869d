"""Monitoring checks that the ``monitoring_checks_schedule`` evaluates every five minutes.

* ``silent_machines`` on ``marts/machine_status``: machines not OFF whose newest event is older
  than ALERT_SILENT_MACHINE_S (the rule lives in the dbt view, evaluated at query time).
* ``stuck_log_files`` on ``raw/ingested_files``: files rejected whole (within
  ALERT_REJECTED_WINDOW_S, unless a later version loaded) and names in the drop that cannot be
  read or are refused. Files whose loads keep failing are the machine-logs sensor's own
  ``files_failing`` check (LOGS_MAX_ATTEMPTS), which alerts the same way.
* ``sync_keeps_failing`` on each ``raw_commandes/<table>``: the table was not synced by its last
  ALERT_SYNC_FAILURES finished sync runs.

All are ERROR severity and name each offender in the ``failing`` metadata entry, so the alert
sensor opens one incident (one email, one recovery) per machine, file or table.
"""

from datetime import UTC, datetime

import dagster as dg

from shutter_assets.defs.monitoring.observations import PIPELINE_TAG, failing_metadata
from shutter_assets.defs.monitoring.resources import AlertingResource
from shutter_assets.defs.resources import LogDropResource, WarehouseResource
from shutter_assets.lib.drop import DropError
from shutter_assets.lib.log_selection import candidates
from shutter_assets.lib.monitoring.inputs import (
    rejected_files,
    rejected_since,
    silent_machines,
)
from shutter_assets.lib.mysql_sync import TABLE_SPECS, TARGET_SCHEMA

MACHINE_STATUS_KEY = dg.AssetKey(["marts", "machine_status"])
INGESTED_FILES_KEY = dg.AssetKey(["raw", "ingested_files"])
LEGACY_ORDERS_PIPELINE = "legacy_orders"


def _offender_table(offenders: dict[str, str]) -> dg.MetadataValue:
    if not offenders:
        return dg.MetadataValue.md("none")
    rows = "\n".join(
        f"| `{name}` | {detail.replace('|', '/').replace(chr(10), ' ')[:200]} |"
        for name, detail in sorted(offenders.items())[:50]
    )
    return dg.MetadataValue.md("| name | why |\n|---|---|\n" + rows)


def _result(offenders: dict[str, str], **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not offenders,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            **metadata,
            "offender_count": dg.MetadataValue.int(len(offenders)),
            "offenders": _offender_table(offenders),
            **failing_metadata(offenders),
        },
    )


@dg.asset_check(
    asset=MACHINE_STATUS_KEY,
    name="silent_machines",
    description="No machine whose last state is not OFF has been without events for longer "
    "than ALERT_SILENT_MACHINE_S (its controller or its upload is broken).",
)
def silent_machines_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        machines = silent_machines(conn)
    if machines is None:
        return dg.AssetCheckResult(
            passed=True,
            metadata={"note": "marts.machine_status is not built yet (run the dbt assets)"},
        )
    offenders = {
        m.machine_id: (
            f"last state {m.last_state}, no event for {m.silent_for_s / 60:.0f} min "
            f"(newest at {m.last_event_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
        )
        for m in machines
    }
    return _result(offenders)


def _drop_name_problems(log_drop: LogDropResource) -> dict[str, str]:
    """Names in the drop that will never load: refused by the loader's name rules, or left out
    of the listing as unreadable (a listing's ``skipped`` names, where the drop client reports
    them); a drop that cannot be listed at all is one offender."""
    try:
        with log_drop.open() as drop:
            listing = drop.list_files()
    except DropError as exc:
        return {"log drop listing": f"the drop cannot be listed: {exc}"}
    problems = {
        path: "refused name (absolute, '..' or a character a path may not hold): rename it"
        for path in candidates(listing)[1]
    }
    for skipped in getattr(listing, "skipped", ()):
        problems[skipped.path] = f"unreadable name skipped by the listing: {skipped.reason}"
    return problems


@dg.asset_check(
    asset=INGESTED_FILES_KEY,
    name="stuck_log_files",
    description="No log file was rejected whole recently (ALERT_REJECTED_WINDOW_S) without a "
    "later good version, and every name in the drop is readable.",
)
def stuck_log_files_check(
    warehouse: WarehouseResource, log_drop: LogDropResource, alerting: AlertingResource
) -> dg.AssetCheckResult:
    settings = alerting.settings()
    now = datetime.now(UTC)
    with warehouse.connect() as conn:
        rejected = rejected_files(conn, since=rejected_since(now, settings.rejected_window_s))
    offenders = {f.path: f.detail for f in rejected}
    offenders.update(_drop_name_problems(log_drop))
    return _result(offenders)


def _latest_sync_at(instance: dg.DagsterInstance, key: dg.AssetKey) -> float | None:
    event = instance.get_latest_materialization_event(key)
    return event.timestamp if event else None


def build_sync_failure_check(table: str) -> dg.AssetChecksDefinition:
    key = dg.AssetKey([TARGET_SCHEMA, table])

    @dg.asset_check(
        asset=key,
        name="sync_keeps_failing",
        description=f"db_commandes.{table} was synced by at least one of its last "
        "ALERT_SYNC_FAILURES finished legacy-orders runs.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, alerting: AlertingResource
    ) -> dg.AssetCheckResult:
        limit = alerting.settings().sync_failures
        instance = context.instance
        synced_at = _latest_sync_at(instance, key)
        runs = instance.get_run_records(
            filters=dg.RunsFilter(
                tags={PIPELINE_TAG: LEGACY_ORDERS_PIPELINE},
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
                created_after=datetime.fromtimestamp(synced_at, UTC) if synced_at else None,
            ),
            limit=limit,
        )
        # A run without an asset selection ran the whole job, hence this table.
        attempts = [
            r
            for r in runs
            if not r.dagster_run.asset_selection or key in r.dagster_run.asset_selection
        ]
        offenders = {}
        if len(attempts) >= limit:
            when = (
                f"last synced {datetime.fromtimestamp(synced_at, UTC):%Y-%m-%d %H:%M} UTC"
                if synced_at
                else "never synced"
            )
            offenders[f"{TARGET_SCHEMA}.{table}"] = (
                f"its last {len(attempts)} sync runs did not sync it ({when}); "
                f"latest run {attempts[0].dagster_run.run_id}"
            )
        return _result(offenders, max_failures=dg.MetadataValue.int(limit))

    return _check


sync_failure_checks = [build_sync_failure_check(spec.name) for spec in TABLE_SPECS]
monitoring_checks = [silent_machines_check, stuck_log_files_check, *sync_failure_checks]

monitoring_checks_job = dg.define_asset_job(
    "monitoring_checks_job",
    selection=dg.AssetSelection.checks(*monitoring_checks),
    description="Silent machines, stuck log files and failing table syncs.",
    tags={PIPELINE_TAG: "monitoring"},
)

monitoring_checks_schedule = dg.ScheduleDefinition(
    name="monitoring_checks_schedule",
    cron_schedule="*/5 * * * *",
    job=monitoring_checks_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Evaluates the monitoring checks every five minutes; alerts follow from them.",
)
