"""Reject-rate check on ``raw/machine_events``: fails when a file's rejects exceed the limit."""

import dagster as dg

from shutter_assets.defs.machine_logs.assets import EVENTS_KEY
from shutter_assets.defs.machine_logs.settings import MachineLogsSettings
from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.lib.log_registry import files_over_reject_rate


@dg.asset_check(
    asset=EVENTS_KEY,
    name="reject_rate",
    description="Each file loaded by the latest ingestion run rejects at most "
    "LOGS_MAX_REJECT_RATE of its event lines.",
)
def reject_rate(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    machine_logs: MachineLogsSettings,
) -> dg.AssetCheckResult:
    limit = machine_logs.reject_rate_limit
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
