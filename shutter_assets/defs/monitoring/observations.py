"""Turn what Dagster recorded (failed runs, check results, sensor and schedule ticks) into
``Incident`` values for the incident store: one incident per thing a person must look at.

Incident keys: ``run:<pipeline>/<job>`` (the run's ``shutter/pipeline`` tag and its job; a
failed run and a run canceled without a person asking open it, a successful run clears it),
``check:<asset>:<check>`` or, when the failing check names its offenders in the ``failing``
metadata entry, ``check:<asset>:<check>|<offender>`` (one per silent machine, stuck file...),
and ``tick:<sensor or schedule>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg
from dagster._core.remote_representation.code_location import is_implicit_asset_job_name
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
    """The incident key of a run's job: ``run:<pipeline>/<job>``, or ``run:<job>`` untagged.

    One incident per job, so a success of ``freshness_checks_job`` never clears a failure of
    ``monitoring_checks_job`` although both carry ``shutter/pipeline=monitoring``; the pipeline
    tells apart the runs of the implicit asset job (``__ASSET_JOB``) that the machine-logs sensor
    and dbt automation both launch.
    """
    pipeline = run.tags.get(PIPELINE_TAG)
    return f"run:{pipeline}/{run.job_name}" if pipeline else f"run:{run.job_name}"


def _runs_label(run: dg.DagsterRun) -> str:
    job = (
        "asset materializations"
        if is_implicit_asset_job_name(run.job_name)
        else f"job {run.job_name}"
    )
    pipeline = run.tags.get(PIPELINE_TAG)
    return f"{pipeline} runs ({job})" if pipeline else f"runs of {job}"


def run_finished_at(instance: dg.DagsterInstance, run: dg.DagsterRun) -> datetime:
    """The instant the run ended (its record's end time): incidents are ordered by it."""
    record = instance.get_run_record_by_id(run.run_id)
    end = record.end_time if record else None
    return datetime.fromtimestamp(end, UTC) if end else datetime.now(UTC)


def run_failure_incident(context: dg.RunFailureSensorContext) -> Incident:
    """The failed run, its job and the error of each failed step (which names the files)."""
    run = context.dagster_run
    lines = [f"A run failed: job {run.job_name}, run {run.run_id}."]
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error if event.event_specific_data else None
        message = error.message.strip() if error else (event.message or "").strip()
        lines.append(f"Step {event.step_key}: {message}")
    if len(lines) == 1 and context.failure_event.message:
        lines.append(context.failure_event.message)
    return _run_incident(run, "failing", lines)


def _run_incident(run: dg.DagsterRun, what: str, lines: list[str]) -> Incident:
    lines.append("The next successful run of this job clears this alert.")
    return Incident(
        key=run_source(run),
        source=run_source(run),
        kind="run",
        subject=f"{_runs_label(run)} are {what}",
        details="\n".join(lines)[:MAX_DETAIL_CHARS],
    )


# What Dagster 1.13 writes when a person cancels a run; it records no user on a cancellation.
# RUN_CANCELING: the UI's or GraphQL's "Terminate" of a started run (the run launcher's
# terminate, default message) and of a queued run or a canceled backfill
# (QueuedRunCoordinator.cancel_run, backfill cancellation). RUN_CANCELED without a request
# before it: the UI's "Mark as canceled immediately" (dagster_graphql's _force_mark_as_canceled).
# Anything else - run monitoring's "Canceling due to exceeding maximum runtime", a run stuck
# canceling past cancel_timeout_seconds after such a request, a launcher or worker that ends a
# run canceled on its own - is not a person's and alerts.
_PERSON_CANCELING = ("Sending run termination request.", "Canceling run from the queue.")
_PERSON_CANCELED = "This pipeline was forcibly marked as canceled from outside the execution"
# Our own tools that cancel on an operator's behalf (scripts/dev_stop.py: make dev stopping)
# start their messages with this, so their cancellations are a person's too.
OPERATOR_CANCEL_PREFIX = "Canceled by an operator"


def _cancel_events(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """The run's RUN_CANCELING and RUN_CANCELED events, oldest first: (event type, message)."""
    records = instance.get_records_for_run(
        run_id,
        of_type={dg.DagsterEventType.RUN_CANCELING, dg.DagsterEventType.RUN_CANCELED},
    ).records
    return [
        (r.event_log_entry.dagster_event_type.value, r.event_log_entry.message or "")
        for r in records
    ]


def canceled_by_person(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the cancellation of ``run_id`` was asked for by a person (see the list above):
    its first RUN_CANCELING event is a person's request, or, with none, its RUN_CANCELED event
    is the UI's force-mark."""
    events = _cancel_events(instance, run_id)
    canceling = [m for kind, m in events if kind == dg.DagsterEventType.RUN_CANCELING.value]
    if canceling:
        return canceling[0] in _PERSON_CANCELING or canceling[0].startswith(OPERATOR_CANCEL_PREFIX)
    return any(m.startswith((_PERSON_CANCELED, OPERATOR_CANCEL_PREFIX)) for _, m in events)


def run_canceled_incident(context: dg.RunStatusSensorContext) -> Incident:
    """A run canceled without a person asking (run monitoring, a launcher): the reasons given."""
    run = context.dagster_run
    lines = [f"A run was canceled without anyone asking: job {run.job_name}, run {run.run_id}."]
    lines.extend(m for _, m in _cancel_events(context.instance, run.run_id) if m)
    return _run_incident(run, "canceled", lines)


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
