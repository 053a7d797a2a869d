"""Run alerts on real servers: Dagster's run-status sensors against an instance on PostgreSQL,
an aiosmtpd SMTP server and an HTTP webhook receiver.

The sensors run independently from their own cursors, as in the daemon; the tests handle the
events of real runs in the orders that interleaved ticks and restarts produce, and drive run
monitoring with Dagster's own daemon functions (``dagster._daemon.monitoring.run_monitoring``).
"""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from tests.fixtures.monitoring import Platform, assert_no_secret, repository_origin

pytestmark = pytest.mark.integration

SILENT_OP = "marts__machine_status_silent_machines"
LOG = logging.getLogger(__name__)


def sensors():
    from shutter_assets.defs.monitoring.sensors import (
        alert_on_run_canceled,
        alert_on_run_failure,
        alert_on_run_success,
    )

    return alert_on_run_failure, alert_on_run_success, alert_on_run_canceled


def break_machine_status(platform: Platform, broken: bool) -> None:
    """A ``marts.machine_status`` the silent-machine check cannot read (its run fails), or none
    (the check passes: not built yet)."""
    with platform.warehouse.connect(autocommit=True) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("drop view if exists marts.machine_status")
        if broken:
            conn.execute("create view marts.machine_status as select 1 as nothing")


def run_job(platform: Platform, job: str, *ops: str) -> dg.ExecuteInProcessResult:
    return platform.defs.resolve_job_def(job).execute_in_process(
        instance=platform.instance, raise_on_error=False, op_selection=list(ops) or None
    )


def monitoring_checks(platform: Platform, *, fail: bool) -> dg.ExecuteInProcessResult:
    break_machine_status(platform, fail)
    result = run_job(platform, "monitoring_checks_job", SILENT_OP)
    assert result.success is not fail
    return result


def test_runs_are_ordered_by_their_end_whatever_order_the_sensors_see_them(
    platform, smtp_inbox, webhook_inbox
):
    on_failure, on_success, _ = sensors()
    start_failure = platform.tick(on_failure).cursor  # first ticks: start the cursors
    start_success = platform.tick(on_success).cursor

    # A failure, then a success: the success sensor handles its run first (ticks interleave).
    monitoring_checks(platform, fail=True)
    monitoring_checks(platform, fail=False)
    success_cursor = platform.tick(on_success, start_success).cursor
    failure_cursor = platform.tick(on_failure, start_failure).cursor
    assert smtp_inbox.messages == [] and webhook_inbox.payloads == []
    platform.restart()  # a restarted daemon that lost the failure sensor's cursor
    platform.tick(on_failure, start_failure)
    assert smtp_inbox.messages == []

    # A success, then a failure: the failure is handled first; the older success clears nothing.
    monitoring_checks(platform, fail=False)
    monitoring_checks(platform, fail=True)
    failure_cursor = platform.tick(on_failure, failure_cursor).cursor
    success_cursor = platform.tick(on_success, success_cursor).cursor
    platform.tick(on_success, start_success)  # and a lost cursor re-reads every success
    assert smtp_inbox.subjects() == [
        "[shutter] ALERT: monitoring runs (job monitoring_checks_job) are failing"
    ]
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing"]

    # Only a success later than the failure is its recovery.
    monitoring_checks(platform, fail=False)
    platform.tick(on_success, success_cursor)
    platform.tick(on_failure, start_failure)
    assert [m["X-Shutter-Status"] for m in smtp_inbox.messages] == ["firing", "resolved"]
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing", "resolved"]


def test_jobs_sharing_a_pipeline_tag_have_their_own_incidents(platform, smtp_inbox):
    on_failure, on_success, _ = sensors()
    start_failure = platform.tick(on_failure).cursor
    start_success = platform.tick(on_success).cursor

    monitoring_checks(platform, fail=True)
    platform.tick(on_failure, start_failure)
    # freshness_checks_job carries shutter/pipeline=monitoring too; its success is not a recovery
    freshness = run_job(platform, "freshness_checks_job")
    assert freshness.success and freshness.dagster_run.tags["shutter/pipeline"] == "monitoring"
    success_cursor = platform.tick(on_success, start_success).cursor
    assert [m["X-Shutter-Incident"] for m in smtp_inbox.messages] == [
        "run:monitoring/monitoring_checks_job"
    ]

    monitoring_checks(platform, fail=False)
    platform.tick(on_success, success_cursor)
    assert [(m["X-Shutter-Status"], m["X-Shutter-Incident"]) for m in smtp_inbox.messages] == [
        ("firing", "run:monitoring/monitoring_checks_job"),
        ("resolved", "run:monitoring/monitoring_checks_job"),
    ]


def started_run(platform: Platform, job: str = "monitoring_checks_job") -> dg.DagsterRun:
    """A run of ``job`` that its worker has started (the records a launched run has)."""
    run = platform.instance.create_run_for_job(
        platform.defs.resolve_job_def(job), tags={"shutter/pipeline": "monitoring"}
    )
    platform.instance.report_dagster_event(
        dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=run.job_name), run.run_id
    )
    return platform.instance.get_run_by_id(run.run_id)


def test_runs_ended_by_run_monitoring_alert_and_runs_a_person_canceled_do_not(
    platform, smtp_inbox, webhook_inbox
):
    from dagster._core.remote_origin import RemoteJobOrigin
    from dagster._daemon.monitoring.run_monitoring import (
        check_run_timeout,
        monitor_canceling_run,
        monitor_starting_run,
    )

    on_failure, on_success, on_canceled = sensors()
    instance = platform.instance
    cursors = {s: platform.tick(s).cursor for s in (on_failure, on_success, on_canceled)}

    def tick_all():
        for sensor in (on_failure, on_success, on_canceled):
            cursors[sensor] = platform.tick(sensor, cursors[sensor]).cursor

    def record(run):
        return instance.get_run_record_by_id(run.run_id)

    job = platform.defs.resolve_job_def("monitoring_checks_job")
    tags = {"shutter/pipeline": "monitoring"}
    # A person removes a queued run from the queue (the UI's Terminate on a queued run).
    queued = instance.create_run_for_job(
        job,
        tags=tags,
        status=dg.DagsterRunStatus.QUEUED,
        remote_job_origin=RemoteJobOrigin(repository_origin(), job.name),
    )
    assert instance.run_coordinator.cancel_run(queued.run_id)
    # A person terminates a started run; its worker never answers; run monitoring gives up
    # waiting (cancel_timeout_seconds) and marks it canceled.
    terminated = started_run(platform)
    instance.run_coordinator.cancel_run(terminated.run_id)
    monitor_canceling_run(instance, record(terminated), LOG)
    # `make dev` stopping records a run it could not reach as canceled (scripts/dev_stop.py).
    from shutter_assets.defs.monitoring.observations import OPERATOR_CANCEL_PREFIX

    unreachable = started_run(platform)
    instance.report_run_canceled(unreachable, message=f"{OPERATOR_CANCEL_PREFIX}: make dev")
    tick_all()
    assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(terminated.run_id).status == dg.DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(unreachable.run_id).status == dg.DagsterRunStatus.CANCELED
    assert smtp_inbox.messages == []

    # Run monitoring cancels a run over its maximum runtime (the request it writes first), the
    # run does not stop, and it ends canceled by the cancel timeout: nobody asked, it alerts.
    overdue = started_run(platform)
    instance.report_run_canceling(
        overdue, message="Canceling due to exceeding maximum runtime of 7200 seconds."
    )
    monitor_canceling_run(instance, record(overdue), LOG)
    assert instance.get_run_by_id(overdue.run_id).status == dg.DagsterRunStatus.CANCELED
    tick_all()
    tick_all()
    assert smtp_inbox.subjects() == [
        "[shutter] ALERT: monitoring runs (job monitoring_checks_job) are canceled"
    ]
    body = smtp_inbox.messages[0].get_content()
    assert overdue.run_id in body and "maximum runtime of 7200 seconds" in body

    monitoring_checks(platform, fail=False)  # the next good run is its recovery
    tick_all()
    assert [m["X-Shutter-Status"] for m in smtp_inbox.messages] == ["firing", "resolved"]

    # Run monitoring's start timeout and maximum runtime end runs FAILURE in Dagster 1.13: the
    # failure sensor reports them (one incident: both are runs of the same job).
    never_started = instance.create_run_for_job(job, tags=tags)
    monitor_starting_run(instance, record(never_started), LOG)
    too_long = started_run(platform)
    check_run_timeout(instance, record(too_long), LOG, default_timeout_seconds=-1)
    assert instance.get_run_by_id(never_started.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(too_long.run_id).status == dg.DagsterRunStatus.FAILURE
    tick_all()
    assert smtp_inbox.subjects()[2:] == [
        "[shutter] ALERT: monitoring runs (job monitoring_checks_job) are failing"
    ]
    assert "seconds to start" in smtp_inbox.messages[2].get_content()
    assert len(webhook_inbox.payloads) == 3
    assert_no_secret(smtp_inbox, webhook_inbox)
