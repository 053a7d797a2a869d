"""Alerts: Dagster's run-status sensors for runs, one sensor for checks and ticks.

* ``alert_on_run_failure`` (``run_failure_sensor``): every failed run of the code location opens
  the incident of its job (``run:<pipeline>/<job>``) and sends it unless already open. Run
  monitoring's start timeout and maximum runtime end a run FAILURE (Dagster 1.13), so they
  alert here.
* ``alert_on_run_canceled`` (``run_status_sensor`` on CANCELED): a run canceled without a person
  asking for it (``observations.canceled_by_person``) opens the same incident.
* ``alert_on_run_success`` (``run_status_sensor`` on SUCCESS): a successful run of the job
  resolves it (the recovery message).

The three sensors run independently, each from its own cursor, so they may handle a run's
failure after a later run's success. Every observation carries the run's end time and the
incident store applies only the newest (``IncidentStore.observe``/``record_recovery``): the
final state is the one of the job's latest finished run, whatever the order.
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
    canceled_by_person,
    check_incidents,
    run_canceled_incident,
    run_failure_incident,
    run_finished_at,
    run_source,
    tick_incidents,
)
from shutter_assets.defs.monitoring.resources import AlertingResource
from shutter_assets.defs.resources import WarehouseResource
from shutter_assets.lib.monitoring.incidents import FlushResult, Incident, IncidentStore


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


def _alert_run(
    context: dg.RunStatusSensorContext,
    incident: Incident,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> None:
    """Open the run's incident as of the run's end (so the newest run of a job wins, whatever
    order the sensors handle runs in), then send what is pending."""
    store = alerting.store(warehouse)
    store.observe([incident], now=run_finished_at(context.instance, context.dagster_run))
    _deliver(context, store, alerting)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed run alerts once per job until a later run of that job succeeds.",
)
def alert_on_run_failure(
    context: dg.RunFailureSensorContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> None:
    _alert_run(context, run_failure_incident(context), warehouse, alerting)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED,
    name="alert_on_run_canceled",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A run canceled without a person asking (run monitoring, a launcher) alerts "
    "like a failed run; a run a person canceled does not.",
)
def alert_on_run_canceled(
    context: dg.RunStatusSensorContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> None:
    run = context.dagster_run
    if canceled_by_person(context.instance, run.run_id):
        context.log.info(f"run {run.run_id} was canceled by a person: no alert")
        return
    _alert_run(context, run_canceled_incident(context), warehouse, alerting)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="alert_on_run_success",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A successful run resolves its job's run incident (recovery) unless a later "
    "run of the job failed.",
)
def alert_on_run_success(
    context: dg.RunStatusSensorContext,
    warehouse: WarehouseResource,
    alerting: AlertingResource,
) -> None:
    store = alerting.store(warehouse)
    run = context.dagster_run
    if store.record_recovery(run_source(run), "run", run_finished_at(context.instance, run)):
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
