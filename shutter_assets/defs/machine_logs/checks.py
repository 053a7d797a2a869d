"""Checks on ``raw/machine_events``: per-file reject rate, and files that keep failing to load."""

import dagster as dg

from shutter_assets.defs.machine_logs.assets import EVENTS_KEY
from shutter_assets.defs.machine_logs.sensor_state import sensor_cursor
from shutter_assets.defs.machine_logs.settings import MachineLogsResource
from shutter_assets.defs.monitoring.observations import failing_metadata
from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.lib.drop.base import RemoteFile
from shutter_assets.lib.log_registry import already_ingested, files_over_reject_rate
from shutter_assets.lib.log_selection import FailingFile, failing_files

FILES_FAILING = dg.AssetCheckKey(EVENTS_KEY, "files_failing")


@dg.asset_check(
    asset=EVENTS_KEY,
    name="reject_rate",
    description="Each file loaded by the latest ingestion run rejects at most "
    "LOGS_MAX_REJECT_RATE of its event lines.",
)
def reject_rate(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    machine_logs: MachineLogsResource,
) -> dg.AssetCheckResult:
    limit = machine_logs.max_reject_rate
    with warehouse.connect() as conn:
        run_id, checked, offenders = files_over_reject_rate(conn, context.run.run_id, limit)
    table = "\n".join(
        f"| `{path}` | {rejects} / {lines} | {rate:.1%} |"
        for path, rejects, lines, rate in offenders[:20]
    )
    return dg.AssetCheckResult(
        passed=not offenders,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "max_reject_rate": dg.MetadataValue.float(limit),
            "run_checked": dg.MetadataValue.text(run_id or "none"),
            "files_checked": dg.MetadataValue.int(checked),
            "files_over_limit": dg.MetadataValue.int(len(offenders)),
            "offenders": dg.MetadataValue.md(
                "| file | rejects / lines | rate |\n|---|---|---:|\n" + table
                if offenders
                else "none"
            ),
        },
    )


def files_failing_metadata(failing: list[FailingFile]) -> dict[str, dg.MetadataValue]:
    rows = "\n".join(
        f"| `{f.path}` | {f.attempts} | {'no (max attempts reached)' if f.exhausted else 'yes'} |"
        for f in failing[:50]
    )
    return {
        # one alert per file (docs/operations.md): the monitoring alert sensor reads this entry
        **failing_metadata(
            {
                f.path: f"offered {f.attempts} time(s) by the sensor, not loaded"
                + ("; no longer retried until the file changes" if f.exhausted else "")
                for f in failing
            }
        ),
        "files_failing": dg.MetadataValue.int(len(failing)),
        "files": dg.MetadataValue.md(
            "| file | attempts | still retried |\n|---|---:|---|\n" + rows if failing else "none"
        ),
    }


def files_failing_evaluation(failing: list[FailingFile]) -> dg.AssetCheckEvaluation:
    """What the sensor reports, without a run, whenever the set of failing files changes."""
    return dg.AssetCheckEvaluation(
        asset_key=EVENTS_KEY,
        check_name=FILES_FAILING.name,
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=files_failing_metadata(failing),
        description=_summary(failing),
    )


def _summary(failing: list[FailingFile]) -> str:
    if not failing:
        return "every file offered by the sensor was loaded"
    names = ", ".join(f.path for f in failing[:5])
    return f"{len(failing)} file(s) keep failing to load: {names}"


@dg.asset_check(
    asset=EVENTS_KEY,
    name=FILES_FAILING.name,
    description="No file keeps failing to load: fails naming each file the sensor offered three "
    "times (or LOGS_MAX_ATTEMPTS) whose runs did not load it. The sensor reports it as soon as "
    "the set changes; run with a materialization, it re-reads the sensor's state.",
)
def files_failing(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    machine_logs: MachineLogsResource,
) -> dg.AssetCheckResult:
    cursor = sensor_cursor(context.instance)
    failing = failing_files(cursor, max_attempts=machine_logs.max_attempts)
    if failing:  # a run since the sensor's last tick may have loaded some of them
        with warehouse.connect() as conn:
            done = already_ingested(conn, [RemoteFile(f.path, f.size, f.mtime) for f in failing])
        failing = [f for f in failing if f.path not in done]
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=files_failing_metadata(failing),
        description=_summary(failing),
    )
