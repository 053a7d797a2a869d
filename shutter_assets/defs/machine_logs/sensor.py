"""``machine_logs_sensor``: request ``machine_logs_to_marts`` runs for settled, not yet ingested
log files (each run loads them, then builds the models downstream: ``jobs.py``).

Settling and cursor rules are in ``shutter_assets.lib.log_selection.decide_tick``; a backlog of N
files becomes ceil(N / LOGS_BATCH_SIZE) runs, each keyed by its exact batch so a repeated tick is
harmless. While a run it requested has not finished its load (queued, or started and still
loading), the sensor requests nothing (``decide_tick``'s ``hold``): that run, when it starts,
also takes every file settled meanwhile (``select_run_files``), the rest go together into the
next run. It ticks every ``LOGS_SENSOR_INTERVAL_S`` seconds (read when the definitions load).
"""

from datetime import UTC, datetime

import dagster as dg

from shutter_assets.defs.machine_logs.assets import INGEST_OP
from shutter_assets.defs.machine_logs.checks import files_failing_evaluation
from shutter_assets.defs.machine_logs.jobs import (
    MACHINE_LOGS_TO_MARTS_SELECTION,
    machine_logs_to_marts,
)
from shutter_assets.defs.machine_logs.sensor_state import SENSOR_NAME, run_before_its_load
from shutter_assets.defs.machine_logs.settings import MachineLogsResource
from shutter_assets.defs.resources import LogDropResource, WarehouseResource
from shutter_assets.lib.drop.base import describe_skipped
from shutter_assets.lib.log_registry import already_ingested
from shutter_assets.lib.log_selection import (
    batch_key,
    batches,
    decide_tick,
    failing_files,
    refused_name_message,
)
from shutter_assets.lib.log_settings import MachineLogsSettings


def _job_assets(context: dg.SensorEvaluationContext) -> list[dg.AssetKey] | None:
    """Every asset of ``machine_logs_to_marts``, named in the run request (None: no repository,
    a unit test's context).

    A run launched for a whole job records no asset selection, and Dagster then counts the raw
    tables it loads as "updated parents" of the very models it builds next: ``eager()``
    (``any_deps_updated``) ignores a parent's update only when the run that made it selected the
    model too. Naming the job's assets makes the run's ``raw`` updates none of the automation's
    business; the models are built by the run itself. Without it the automation requested
    models a queued ``machine_logs_to_marts`` run was about to build whenever it ticked while
    the next run was created but not yet queued (issue 18; docs/machine_logs.md, "Freshness").
    """
    repository = context.repository_def
    if repository is None:
        return None
    keys = MACHINE_LOGS_TO_MARTS_SELECTION.resolve(repository.asset_graph)
    return sorted(keys, key=lambda k: k.to_user_string())


def _run_before_its_load(context: dg.SensorEvaluationContext) -> bool:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # built by a unit test without an instance
        return False
    return run_before_its_load(instance)


@dg.sensor(
    name=SENSOR_NAME,
    target=machine_logs_to_marts,
    minimum_interval_seconds=MachineLogsSettings.from_env().sensor_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lists the log drop; requests a run loading settled new files into raw.* and "
    "building the models downstream of them.",
)
def machine_logs_sensor(
    context: dg.SensorEvaluationContext,
    log_drop: LogDropResource,
    warehouse: WarehouseResource,
    machine_logs: MachineLogsResource,
) -> dg.SensorResult:
    with log_drop.open() as drop:
        listing = drop.list_files()
    if listing.skipped:
        context.log.warning(describe_skipped(listing.skipped))
    with warehouse.connect() as conn:
        ingested = already_ingested(conn, listing)
    decision = decide_tick(
        context.cursor,
        listing,
        ingested,
        now=datetime.now(UTC),
        min_age_s=machine_logs.min_age_s,
        retry_after_s=machine_logs.retry_after_s,
        max_attempts=machine_logs.max_attempts,
        hold=_run_before_its_load(context),
    )
    for path in decision.refused:
        context.log.error(refused_name_message(path))
    runs = []
    assets = _job_assets(context)
    for batch in batches(decision.settled, machine_logs.batch_size):
        attempt = max(decision.attempts.get(f.path, 1) for f in batch)
        if attempt > 1:
            context.log.warning(
                f"retrying {len(batch)} file(s) whose earlier run did not load them "
                f"(attempt {attempt} of at most {machine_logs.max_attempts})"
            )
        runs.append(
            dg.RunRequest(
                run_key=batch_key(batch, decision.attempts),
                run_config={"ops": {INGEST_OP: {"config": {"paths": [f.path for f in batch]}}}},
                asset_selection=assets,
                tags={
                    "machine_logs/files": str(len(batch)),
                    "machine_logs/attempt": str(attempt),
                },
            )
        )
    # The check turns red (or green again) as soon as the set of failing files changes.
    before = failing_files(context.cursor, max_attempts=machine_logs.max_attempts)
    events = [] if decision.failing == before else [files_failing_evaluation(decision.failing)]
    for f in decision.failing:
        context.log.error(
            f"{f.path} keeps failing to load: offered {f.attempts} time(s)"
            + (", no longer retried until it changes" if f.exhausted else "")
        )
    skip = None
    if decision.held:
        skip = (
            f"{decision.held} settled file(s) held: a run requested earlier has not loaded yet "
            "(it takes them when it starts, or the next run does)"
        )
    elif not runs:
        skip = f"no settled new file ({decision.waiting} waiting to settle)"
    return dg.SensorResult(
        run_requests=runs, cursor=decision.cursor, skip_reason=skip, asset_events=events
    )
