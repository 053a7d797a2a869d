"""Alerts: Dagster's run-status sensors for runs, one sensor for checks and ticks.

* ``alert_on_run_failure`` (``run_failure_sensor``): every failed run of the code location opens
  the incident of its pipeline (``shutter/pipeline`` tag) and sends it unless already open.
* ``alert_on_run_success`` (``run_status_sensor`` on SUCCESS): a successful run of the pipeline
  resolves it (the recovery message).
* ``monitoring_alerts_sensor``: every minute, the latest result of every asset check (failing
  with ERROR severity = incident, one per offender it names) and the latest tick of every sensor
  and schedule (a failed tick = incident); then sends what is pending and retries what failed.

Dagster's ``make_email_on_run_failure_sensor`` sends one mail per failed run with the password
given as a plain string at load; it has no deduplication, recovery, webhook or rate limit, so the
run-status sensors here feed the incident store (``lib/monitoring/incidents.py``) instead.
Deduplication lives in PostgreSQL (``monitoring.alert_incidents``), so neither a repeated tick nor
a restarted daemon nor a sensor cursor reset repeats an alert.
"""

import dagster as dg

from shutter_assets.defs.monitoring.observations import (
    check_incidents,
    run_failure_incident,
    run_source,
    tick_incidents,
)
from shutter_assets.defs.monitoring.resources import AlertingResource
from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.lib.monitoring.incidents import FlushResult, IncidentStore


def _deliver(
    context: dg.SensorEvaluationContext | dg.RunStatusSensorContext,
    store: IncidentStore,
    alerting: AlertingResource,
) -> FlushResult:
    result = store.flush(alerting.channels())
    for channel, transition, key in result.sent:
        context.log.info(f"{channel}: sent {transition} message of {key}")
    for error in result.errors:
        context.log.warning(f"alert delivery failed, will retry: {error}")
    for given_up in result.given_up:
        context.log.error(f"alert delivery given up after repeated failures: {given_up}")
    if result.held_back:
        context.log.warning(
            f"{result.held_back} alert message(s) held back by ALERT_RATE_LIMIT_PER_HOUR; "
            "they go out when the hour's budget allows"
        )
    return result


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed run alerts once per pipeline until a run of that pipeline succeeds.",
)
def alert_on_run_failure(
    context: dg.RunFailureSensorContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> None:
    store = alerting.store(warehouse)
    store.observe([run_failure_incident(context)])
    _deliver(context, store, alerting)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_run_success",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A successful run resolves its pipeline's run-failure incident (recovery).",
)
def alert_on_run_success(
    context: dg.RunStatusSensorContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> None:
    store = alerting.store(warehouse)
    if store.resolve_source(run_source(context.dagster_run)):
        _deliver(context, store, alerting)


@dg.sensor(
    name="monitoring_alerts_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Failing ERROR checks and failing sensor/schedule ticks become alerts; "
    "sends pending alert and recovery messages.",
)
def monitoring_alerts_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> dg.SkipReason:
    store = alerting.store(warehouse)
    check_keys = context.repository_def.asset_graph.asset_check_keys
    checks, check_sources = check_incidents(context.instance, check_keys)
    ticks, tick_sources = tick_incidents(context.instance)
    opened, resolved = store.observe(
        [*checks, *ticks], evaluated_sources=[*check_sources, *tick_sources]
    )
    result = _deliver(context, store, alerting)
    return dg.SkipReason(
        f"{len(checks) + len(ticks)} incident(s) observed, {len(opened)} opened, "
        f"{len(resolved)} resolved; {len(result.sent)} message(s) sent, "
        f"{result.held_back} held back, {len(result.errors)} delivery error(s)"
    )
