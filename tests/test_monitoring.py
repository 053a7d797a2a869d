"""Monitoring end to end on real servers: PostgreSQL (warehouse and Dagster's instance storage),
dbt, an SMTP server (aiosmtpd) and an HTTP webhook receiver on loopback.

Sensors are evaluated the way the daemon does it (``evaluate_tick`` with the cursor it persisted)
against a DagsterInstance on PostgreSQL; "a daemon restart" is a new instance object on the same
storage and, for the run-status sensor, the cursor from before the incident.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
import pytest
from psycopg import sql

from tests.fixtures.databases import create_pg_database, drop_pg_database
from tests.fixtures.dbt_data.runner import dbt

pytestmark = pytest.mark.integration

HEAD = "timestamp;machine_id;event;order_ref;program;value;message\n"
PG_SECRET = "pg-Secr3t-value"
SMTP_SECRET = "smtp-Secr3t-value"
INGEST_KEYS = [
    dg.AssetKey(["raw", "machine_events"]),
    dg.AssetKey(["raw", "machine_event_rejects"]),
    dg.AssetKey(["raw", "ingested_files"]),
]


class Platform:
    """The code location loaded from a test environment, and a Dagster instance on PostgreSQL."""

    def __init__(self, warehouse, storage, drop: Path, home: Path) -> None:
        self.warehouse = warehouse
        self.drop = drop
        self.home = home
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text(
            textwrap.dedent(
                f"""
                storage:
                  postgres:
                    postgres_db:
                      username: {storage.user}
                      password: ""
                      hostname: {storage.host}
                      db_name: {storage.dbname}
                      port: {storage.port}
                      scheme: postgresql+psycopg2
                telemetry:
                  enabled: false
                """
            )
        )
        from shutter_assets.definitions import defs

        self.defs = defs()
        self.repo = self.defs.get_repository_def()
        self.instance = self.restart()

    def restart(self) -> dg.DagsterInstance:
        """A new instance object on the same storage, as a restarted daemon gets."""
        self.instance = dg.DagsterInstance.from_config(str(self.home))
        return self.instance

    def resources(self) -> dict:
        return dict(self.defs.resources)

    def write(self, name: str, lines: list[str]) -> None:
        (self.drop / name).write_text(HEAD + "".join(f"{line}\n" for line in lines))

    def ingest(self) -> dg.ExecuteInProcessResult:
        return self.repo.get_implicit_global_asset_job_def().execute_in_process(
            asset_selection=INGEST_KEYS,
            instance=self.instance,
            tags={"shutter/pipeline": "machine_logs"},
            raise_on_error=False,
        )

    def run_checks(self, *ops: str) -> dg.ExecuteInProcessResult:
        """The monitoring checks job as its schedule runs it (only ``ops`` when given)."""
        result = self.defs.get_job_def("monitoring_checks_job").execute_in_process(
            instance=self.instance, raise_on_error=False, op_selection=list(ops) or None
        )
        assert result.success
        return result

    def set_now(self, instant: str) -> None:
        with self.warehouse.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter database {} set shutter.now = {}").format(
                    sql.Identifier(self.warehouse.dbname), sql.Literal(instant)
                )
            )

    def tick(self, sensor, cursor: str | None = None, repository: bool = False):
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=cursor,
            resources=self.resources(),
            repository_def=self.repo if repository else None,
        )
        return sensor.evaluate_tick(context)


@pytest.fixture
def platform(tmp_path, pg_settings, smtp_inbox, webhook_inbox, monkeypatch) -> Platform:
    storage = create_pg_database("dagster_test")
    drop = tmp_path / "drop"
    drop.mkdir()
    env = {
        "POSTGRES_HOST": pg_settings.host,
        "POSTGRES_PORT": str(pg_settings.port),
        "POSTGRES_USER": pg_settings.user,
        # trust authentication ignores it; alerts must never show it
        "POSTGRES_PASSWORD": PG_SECRET,
        "POSTGRES_DB": pg_settings.dbname,
        "FTP_PROTOCOL": "local",
        "FTP_REMOTE_DIR": str(drop),
        "LOGS_MIN_AGE_S": "0",
        "PLANT_TIMEZONE": "Europe/Paris",
        "ALERT_SMTP_HOST": smtp_inbox.host,
        "ALERT_SMTP_PORT": str(smtp_inbox.port),
        "ALERT_SMTP_STARTTLS": "0",
        "ALERT_SMTP_PASSWORD": SMTP_SECRET,
        "ALERT_EMAIL_TO": "maintenance@plant.example, data@plant.example",
        "ALERT_WEBHOOK_URL": webhook_inbox.url,
        "ALERT_SILENT_MACHINE_S": "3600",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        yield Platform(pg_settings.with_db(pg_settings.dbname), storage, drop, tmp_path / "home")
    finally:
        drop_pg_database(storage)


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


def assert_no_secret(smtp_inbox, webhook_inbox) -> None:
    token = webhook_inbox.url.rsplit("/", 1)[-1]
    texts = [m.as_string() for m in smtp_inbox.messages] + [r.decode() for r in webhook_inbox.raw]
    for text in texts:
        for secret in (PG_SECRET, SMTP_SECRET, token):
            assert secret not in text


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
    assert "machine_logs runs are failing" in mail["Subject"]
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
    assert [m["Subject"].split(":")[0] for m in smtp_inbox.messages] == [
        "[shutter] ALERT",
        "[shutter] RESOLVED",
    ]
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing", "resolved"]
    assert_no_secret(smtp_inbox, webhook_inbox)
