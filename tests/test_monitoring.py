"""Monitoring end to end on real servers: PostgreSQL (warehouse and Dagster's instance storage),
dbt, an SMTP server (aiosmtpd) and an HTTP webhook receiver on loopback.

Sensors are evaluated the way the daemon does it (``evaluate_tick`` with the cursor it persisted)
against a DagsterInstance on PostgreSQL; "a daemon restart" is a new instance object on the same
storage and, for the run-status sensor, the cursor from before the incident.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.dbt_data.runner import dbt
from tests.fixtures.monitoring import PG_SECRET, Platform, assert_no_secret

pytestmark = pytest.mark.integration

SILENT_OP = "marts__machine_status_silent_machines"


def dbt_build_machine_status(platform: Platform, target: Path) -> None:
    """The seed and models machine_status needs, without their data tests (one dbt start-up)."""
    dbt(
        platform.warehouse,
        target,
        "build",
        "--select",
        "machines +machine_status",
        "--resource-type",
        "seed",
        "--resource-type",
        "model",
    )


def test_silent_machine_alerts_once_recovers_once_and_off_machine_never(
    platform, smtp_inbox, webhook_inbox, tmp_path
):
    # CU-01 stops while RUNNING (newest event 06:01 Paris = 05:01 UTC); CU-02 switched OFF first.
    platform.write(
        "CU-01_20261120_060000.log",
        [
            "2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;",
            "2026-11-20 06:00:05;CU-01;CYCLE_START;;LAME-ALU-39;;",
            "2026-11-20 06:01:00;CU-01;CYCLE_END;;LAME-ALU-39;4;",
        ],
    )
    platform.write(
        "CU-02_20261120_060000.log",
        ["2026-11-20 06:00:00;CU-02;STATE;;;RUNNING;", "2026-11-20 06:30:00;CU-02;STATE;;;OFF;"],
    )
    assert platform.ingest().success
    target = tmp_path / "dbt_target"
    dbt_build_machine_status(platform, target)

    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor

    def check_then_tick():
        checks = platform.run_checks(SILENT_OP)
        platform.tick(monitoring_alerts_sensor, repository=True)
        (silent,) = [
            e for e in checks.get_asset_check_evaluations() if e.check_name == "silent_machines"
        ]
        return silent

    platform.set_now("2026-11-20 05:20:00+00")
    assert check_then_tick().passed
    assert smtp_inbox.messages == [] and webhook_inbox.payloads == []

    platform.set_now("2026-11-20 08:00:00+00")  # CU-01 silent for 3 h, CU-02 OFF for 2.5 h
    silent = check_then_tick()
    assert not silent.passed
    assert set(silent.metadata["failing"].value) == {"CU-01"}
    assert len(smtp_inbox.messages) == 1
    (mail,) = smtp_inbox.messages
    assert "ALERT" in mail["Subject"] and "CU-01" in mail["Subject"]
    assert "CU-02" not in mail.as_string()
    assert mail["To"] == "maintenance@plant.example, data@plant.example"
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing"]
    assert "CU-01" in webhook_inbox.payloads[0]["text"]

    check_then_tick()  # the next tick sees the same silence
    platform.restart()  # and so does a restarted daemon
    check_then_tick()
    assert len(smtp_inbox.messages) == 1 and len(webhook_inbox.payloads) == 1

    platform.write(
        "CU-01_20261120_090000.log",
        ["2026-11-20 09:00:00;CU-01;STATE;;;RUNNING;", "2026-11-20 09:02:00;CU-01;STATE;;;IDLE;"],
    )
    assert platform.ingest().success
    dbt_build_machine_status(platform, target)
    platform.set_now("2026-11-20 08:05:00+00")
    assert check_then_tick().passed
    assert len(smtp_inbox.messages) == 2
    assert "RESOLVED" in smtp_inbox.messages[1]["Subject"]
    assert "CU-01" in smtp_inbox.messages[1]["Subject"]
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing", "resolved"]

    check_then_tick()
    assert len(smtp_inbox.messages) == 2 and len(webhook_inbox.payloads) == 2
    assert_no_secret(smtp_inbox, webhook_inbox)


def test_failing_ingestion_run_alerts_once_naming_the_file_and_recovers(
    platform, smtp_inbox, webhook_inbox
):
    from shutter_assets.defs.monitoring.sensors import alert_on_run_failure, alert_on_run_success

    platform.write("CU-01_20261120_060000.log", ["2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;"])
    assert platform.ingest().success  # the raw tables exist
    failure_cursor = platform.tick(alert_on_run_failure).cursor  # first tick: starts the cursor
    success_cursor = platform.tick(alert_on_run_success).cursor
    # The warehouse refuses one file, as a full disk or a lost privilege would, naming a secret.
    with platform.warehouse.connect(autocommit=True) as conn:
        conn.execute(
            f"""
            create function refuse_cu09() returns trigger language plpgsql as $$
            begin
                raise exception 'could not extend file for %, password={PG_SECRET}', new.path;
            end $$;
            create trigger refuse_cu09 before insert on raw.ingested_files for each row
                when (new.path like 'CU-09%') execute function refuse_cu09();
            """
        )
    platform.write("CU-09_20261120_060000.log", ["2026-11-20 06:00:00;CU-09;STATE;;;RUNNING;"])
    assert not platform.ingest().success
    after_first = platform.tick(alert_on_run_failure, failure_cursor).cursor
    assert len(smtp_inbox.messages) == 1
    mail = smtp_inbox.messages[0]
    assert smtp_inbox.subjects() == [
        "[shutter] ALERT: machine_logs runs (asset materializations) are failing"
    ]
    assert "CU-09_20261120_060000.log" in mail.get_content()
    assert "CU-09_20261120_060000.log" in webhook_inbox.payloads[0]["text"]

    assert not platform.ingest().success  # the retry fails the same way: same incident
    platform.tick(alert_on_run_failure, after_first)
    platform.restart()  # a restarted daemon whose cursor was lost re-reads both failures
    platform.tick(alert_on_run_failure, failure_cursor)
    assert len(smtp_inbox.messages) == 1 and len(webhook_inbox.payloads) == 1

    with platform.warehouse.connect(autocommit=True) as conn:
        conn.execute("drop trigger refuse_cu09 on raw.ingested_files")
    assert platform.ingest().success
    platform.tick(alert_on_run_success, success_cursor)
    assert [s.split(":")[0] for s in smtp_inbox.subjects()] == [
        "[shutter] ALERT",
        "[shutter] RESOLVED",
    ]
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing", "resolved"]
    assert_no_secret(smtp_inbox, webhook_inbox)


def test_stalled_dbt_fails_the_marts_freshness_and_makes_no_machine_silent(
    platform, smtp_inbox, monkeypatch, tmp_path
):
    import time

    import dagster as dg

    from shutter_assets.defs.monitoring.freshness import mart_keys
    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor

    monkeypatch.setenv("ALERT_FRESHNESS_MARTS_S", "2")
    platform.write(
        "CU-01_20261120_060000.log",
        ["2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;", "2026-11-20 06:01:00;CU-01;STATE;;;IDLE;"],
    )
    platform.write("CU-02_20261120_060000.log", ["2026-11-20 06:00:00;CU-02;STATE;;;RUNNING;"])
    assert platform.ingest().success
    dbt_build_machine_status(platform, tmp_path / "dbt_target")
    for key in mart_keys():  # dbt built every mart now (recorded as Dagster records a build)...
        platform.instance.report_runless_asset_event(dg.AssetMaterialization(key))
    # ... and then stalls, while the machines keep sending: CU-01 runs on, CU-02 is switched OFF.
    platform.write(
        "CU-01_20261120_073000.log",
        ["2026-11-20 07:30:00;CU-01;STATE;;;RUNNING;", "2026-11-20 07:35:00;CU-01;CYCLE_START;;;;"],
    )
    platform.write("CU-02_20261120_061000.log", ["2026-11-20 06:10:00;CU-02;STATE;;;OFF;"])
    assert platform.ingest().success
    time.sleep(3)  # the marts are older than ALERT_FRESHNESS_MARTS_S

    platform.set_now("2026-11-20 07:00:00+00")  # the last build saw both silent for ~2 h
    with platform.warehouse.connect() as conn:
        rows = conn.execute(
            "select machine_id, status, last_state, last_event_at from marts.machine_status "
            "where machine_id in ('CU-01', 'CU-02') order by machine_id"
        ).fetchall()
    assert [(m, status, state) for m, status, state, _ in rows] == [
        ("CU-01", "reporting", "RUNNING"),
        ("CU-02", "off", "OFF"),
    ]
    assert rows[0][3].isoformat() == "2026-11-20T06:35:00+00:00"

    silent = platform.run_checks(SILENT_OP).get_asset_check_evaluations()
    assert [e.passed for e in silent] == [True]
    freshness_key = dg.AssetCheckKey(dg.AssetKey(["marts", "machine_status"]), "freshness_check")
    freshness_op = platform.repo.asset_checks_defs_by_key[freshness_key].node_def.name
    result = platform.defs.resolve_job_def("freshness_checks_job").execute_in_process(
        instance=platform.instance, op_selection=[freshness_op]
    )
    stale = {
        e.asset_key.to_user_string() for e in result.get_asset_check_evaluations() if not e.passed
    }
    assert stale == {k.to_user_string() for k in mart_keys()}

    platform.tick(monitoring_alerts_sensor, repository=True)
    subjects = smtp_inbox.subjects()
    assert "[shutter] ALERT: freshness_check failed on marts/machine_status" in subjects
    assert all("freshness_check failed on marts/" in s for s in subjects), subjects
