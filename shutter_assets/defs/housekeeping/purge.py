"""``purge_history``: finished runs older than ``DAGSTER_RUN_RETENTION_DAYS`` leave Dagster's
database (run, event log, captured logs), and captured stdout/stderr older than
``DAGSTER_COMPUTE_LOG_RETENTION_DAYS`` leave the disk, the runs' and the sensor/schedule ticks'
(``<compute logs>/__repository__/<sensor>/<tick>.err``); daily at 03:30 plant time.

Dagster prunes sensor and schedule ticks from its database itself (``retention:`` in
dagster.yaml) but neither their captured logs nor any run; this is the clean-up job Dagster's
database-tuning guide describes, run through the public instance API
(``DagsterInstance.delete_run``, ``ComputeLogManager.delete_logs``). Unfinished runs are never
touched.
"""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from shutter_assets.lib.plant import PlantSettings
from shutter_assets.lib.retention import RetentionSettings, prune_compute_logs, prune_tick_logs

JOB_NAME = "purge_history"
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# Runs deleted per pass of the loop; a first purge of a long history takes several passes.
BATCH = 200


# ``DAGSTER_RUN_RETENTION_DAYS``, ``DAGSTER_COMPUTE_LOG_RETENTION_DAYS`` (lib/retention.py).
RetentionResource = dg.ResourceParam[RetentionSettings]


def purge_runs(instance: dg.DagsterInstance, days: int, max_runs: int = 100_000) -> int:
    """Delete finished runs last updated more than ``days`` ago, with their captured logs."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    deleted = 0
    while deleted < max_runs:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, updated_before=cutoff), limit=BATCH
        )
        if not records:
            break
        for record in records:
            run_id = record.dagster_run.run_id
            instance.compute_log_manager.delete_logs(prefix=[run_id])
            instance.delete_run(run_id)
            deleted += 1
    return deleted


def purge_compute_logs(instance: dg.DagsterInstance, days: float) -> tuple[int, int]:
    """Delete captured logs idle for ``days``: of finished runs, and of sensor/schedule ticks.

    Returns (runs, tick log files) deleted; only the local manager's files (others: (0, 0)).
    """
    manager = instance.compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return 0, 0
    base_dir = Path(manager._base_dir)  # no public accessor

    def is_finished(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or run.is_finished

    now = time.time()
    removed = prune_compute_logs(
        base_dir,
        days * 86_400,
        is_finished,
        lambda run_id: manager.delete_logs(prefix=[run_id]),
        now=now,
    )
    ticks = prune_tick_logs(base_dir, days * 86_400, now=now)
    return len(removed), len(ticks)


@dg.op(description="Deletes finished runs and captured logs past their retention.")
def purge_expired_history(context: dg.OpExecutionContext, retention: RetentionResource) -> None:
    if retention.run_days < 1 or retention.compute_log_days < 0:
        raise dg.Failure(
            f"DAGSTER_RUN_RETENTION_DAYS={retention.run_days} must be 1 or more and "
            f"DAGSTER_COMPUTE_LOG_RETENTION_DAYS={retention.compute_log_days} 0 or more"
        )
    runs = purge_runs(context.instance, retention.run_days)
    logs, ticks = purge_compute_logs(context.instance, retention.compute_log_days)
    context.log.info(
        f"deleted {runs} run(s), the captured logs of {logs} more and {ticks} tick log file(s)"
    )


@dg.job(
    name=JOB_NAME,
    tags={"shutter/pipeline": "housekeeping"},
    description="Retention of the run history and captured logs (docs/deploy.md).",
)
def purge_history_job() -> None:
    purge_expired_history()


@dg.definitions
def housekeeping_defs() -> dg.Definitions:
    timezone = PlantSettings.from_env().timezone
    return dg.Definitions(
        jobs=[purge_history_job],
        schedules=[
            dg.ScheduleDefinition(
                name="purge_history_schedule",
                cron_schedule="30 3 * * *",
                execution_timezone=timezone,
                job=purge_history_job,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Daily retention of the run history and captured logs.",
            )
        ],
        resources={"retention": RetentionSettings.from_env()},
    )
