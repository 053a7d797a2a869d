"""Turn what Dagster recorded (failed runs, check results, sensor and schedule ticks) into
``Incident`` values for the incident store: one incident per thing a person must look at.

Incident keys: ``run:<pipeline>`` (the run's ``shutter/pipeline`` tag, else its job),
``check:<asset>:<check>`` or, when the failing check names its offenders in the ``failing``
metadata entry, ``check:<asset>:<check>|<offender>`` (one per silent machine, stuck file...),
and ``tick:<sensor or schedule>``.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus, TickStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from shutter_assets.lib.monitoring.incidents import Incident

FAILING_METADATA_KEY = "failing"
PIPELINE_TAG = "shutter/pipeline"
MAX_DETAIL_CHARS = 3000


def failing_metadata(offenders: dict[str, str]) -> dict[str, dg.MetadataValue]:
    """The metadata entry a check uses to name each offender (name -> one line of detail)."""
    return {FAILING_METADATA_KEY: dg.MetadataValue.json(offenders)}


def run_source(run: dg.DagsterRun) -> str:
    return f"run:{run.tags.get(PIPELINE_TAG) or run.job_name}"


def run_failure_incident(context: dg.RunFailureSensorContext) -> Incident:
    """The failed run, its job and the error of each failed step (which names the files)."""
    run = context.dagster_run
    pipeline = run.tags.get(PIPELINE_TAG) or run.job_name
    lines = [f"A {pipeline} run failed (job {run.job_name}, run {run.run_id})."]
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        message = error.message.strip() if error else (event.message or "").strip()
        lines.append(f"Step {event.step_key}: {message}")
    if len(lines) == 1 and context.failure_event.message:
        lines.append(context.failure_event.message)
    lines.append("The next successful run of this pipeline clears this alert.")
    return Incident(
        key=run_source(run),
        source=run_source(run),
        kind="run",
        subject=f"{pipeline} runs are failing",
        details="\n".join(lines)[:MAX_DETAIL_CHARS],
    )


def check_source(key: dg.AssetCheckKey) -> str:
    return f"check:{key.asset_key.to_user_string()}:{key.name}"


def check_incidents(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey]
) -> tuple[list[Incident], list[str]]:
    """Incidents of the checks whose latest result failed with ERROR severity.

    Returns (incidents, sources evaluated): a check whose latest execution is still planned or
    running is not evaluated, so its open incidents stay open.
    """
    keys = list(check_keys)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    incidents: list[Incident] = []
    evaluated: list[str] = []
    for key, record in records.items():
        if record.status == AssetCheckExecutionRecordStatus.PLANNED:
            continue
        source = check_source(key)
        evaluated.append(source)
        evaluation = record.evaluation
        if (
            record.status != AssetCheckExecutionRecordStatus.FAILED
            or evaluation is None
            or evaluation.passed
            or evaluation.severity != dg.AssetCheckSeverity.ERROR
        ):
            continue
        asset = key.asset_key.to_user_string()
        entry = evaluation.metadata.get(FAILING_METADATA_KEY)
        offenders = entry.value if entry is not None and isinstance(entry.value, dict) else {}
        if offenders:
            for name, detail in sorted(offenders.items()):
                incidents.append(
                    Incident(
                        key=f"{source}|{name}",
                        source=source,
                        kind="check",
                        subject=f"{key.name} on {asset}: {name}",
                        details=f"Check {key.name} on {asset} fails for {name}: {detail}",
                    )
                )
        else:
            details = [f"Check {key.name} on {asset} failed."]
            if evaluation.description:
                details.append(evaluation.description)
            details.extend(
                f"{label}: {value.value}"
                for label, value in evaluation.metadata.items()
                if isinstance(value.value, str | int | float)
            )
            incidents.append(
                Incident(
                    key=source,
                    source=source,
                    kind="check",
                    subject=f"{key.name} failed on {asset}",
                    details="\n".join(details)[:MAX_DETAIL_CHARS],
                )
            )
    return incidents, evaluated


def tick_incidents(instance: dg.DagsterInstance) -> tuple[list[Incident], list[str]]:
    """Sensors and schedules whose latest tick failed (an error, not a skip)."""
    incidents: list[Incident] = []
    evaluated: list[str] = []
    for state in instance.all_instigator_state():
        source = f"tick:{state.instigator_name}"
        evaluated.append(source)
        if state.status not in (InstigatorStatus.RUNNING, InstigatorStatus.DECLARED_IN_CODE):
            continue
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if not ticks or ticks[0].status != TickStatus.FAILURE:
            continue
        tick = ticks[0]
        error = tick.error.message.strip() if tick.error else "no error recorded"
        kind = state.instigator_type.value.lower()
        incidents.append(
            Incident(
                key=source,
                source=source,
                kind="tick",
                subject=f"{kind} {state.instigator_name} is failing",
                details=(
                    f"The latest tick of {kind} {state.instigator_name} failed "
                    f"({tick.consecutive_failure_count or 1} in a row): {error}"
                )[:MAX_DETAIL_CHARS],
            )
        )
    return incidents, evaluated
