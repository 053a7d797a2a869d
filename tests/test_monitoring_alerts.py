"""Alert delivery and the stuck-input and freshness checks, on real servers: PostgreSQL, an
aiosmtpd SMTP server (plain, and STARTTLS with login), an HTTP webhook receiver on loopback."""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from shutter_assets.lib.monitoring.channels import (
    DeliveryError,
    EmailChannel,
    Message,
    configured_channels,
)
from shutter_assets.lib.monitoring.incidents import Incident, IncidentStore
from shutter_assets.lib.monitoring.redact import MASK, redact
from shutter_assets.lib.monitoring.settings import AlertSettings, variable_names
from tests.fixtures.monitoring import Platform, assert_no_secret, repository_origin
from tests.fixtures.receivers import SmtpInbox, free_port

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def settings_for(smtp: SmtpInbox | None, webhook_url: str = "", **kw) -> AlertSettings:
    return AlertSettings(
        smtp_host=smtp.host if smtp else "",
        smtp_port=smtp.port if smtp else 587,
        smtp_starttls=False,
        email_to=("ops@plant.example",),
        webhook_url=webhook_url,
        **kw,
    )


def store_and_channels(pg, settings: AlertSettings) -> tuple[IncidentStore, list]:
    """An incident store on ``pg`` (schema created) and the channels ``settings`` configure."""
    store = IncidentStore(pg, settings)
    store.ensure_schema()
    return store, configured_channels(settings)


def incident(n: int) -> Incident:
    return Incident(f"check:x:{n}", "check:x", "check", f"thing {n} is wrong", f"details {n}")


# -- settings and secret masking (no server) ----------------------------------------------------


def test_settings_parse_every_alert_variable_and_name_a_bad_one():
    s = AlertSettings.from_env(
        {
            "ALERT_SMTP_PORT": "2525",
            "ALERT_SMTP_STARTTLS": "0",
            "ALERT_EMAIL_TO": " a@x.example, b@x.example ,",
            "ALERT_RATE_LIMIT_PER_HOUR": "7",
            "ALERT_WEBHOOK_TIMEOUT_S": "2.5",
        }
    )
    assert (s.smtp_port, s.smtp_starttls, s.rate_limit_per_hour) == (2525, False, 7)
    assert s.email_to == ("a@x.example", "b@x.example")
    assert s.webhook_timeout_s == 2.5
    assert AlertSettings.from_env({}) == AlertSettings()
    with pytest.raises(ValueError, match="ALERT_SYNC_FAILURES"):
        AlertSettings.from_env({"ALERT_SYNC_FAILURES": "three"})


def test_env_example_and_docs_list_every_alert_variable():
    env_example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(ALERT_[A-Z_]+)=", env_example, re.M))
    assert set(variable_names()) | {"ALERT_SILENT_MACHINE_S"} == documented
    operations = (ROOT / "docs" / "operations.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in ("ALERT_SMTP_HOST", "ALERT_WEBHOOK_URL", "ALERT_SILENT_MACHINE_S"):
        assert name in operations and name in readme


def test_redact_masks_secret_variables_url_credentials_and_password_pairs(monkeypatch):
    ftp, url_pass, token, dsn_pass = (secrets.token_urlsafe(12) for _ in range(4))
    monkeypatch.setenv("FTP_PASSWORD", ftp)
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"https://hooks.example/T/B/{token}")
    monkeypatch.setenv("PLANT_TIMEZONE", "Europe/Paris")  # not a secret
    text = (
        f"login failed with {ftp} at ftp://machines:{url_pass}@10.0.0.5/drop; "
        f"posting to https://hooks.example/T/B/{token}; dsn host=db password='{dsn_pass}' "
        "user=x; zone Europe/Paris"
    )
    masked = redact(text)
    for secret in (ftp, url_pass, token, dsn_pass):
        assert secret not in masked
    assert "ftp://machines:***@10.0.0.5/drop" in masked
    assert f"password='{MASK}'" in masked
    assert "Europe/Paris" in masked


# -- the incident store and its deliveries ------------------------------------------------------


@pytest.mark.integration
def test_rate_limit_holds_messages_back_until_the_hour_allows(
    pg_settings, smtp_inbox, webhook_inbox
):
    store, channels = store_and_channels(
        pg_settings, settings_for(smtp_inbox, webhook_inbox.url, rate_limit_per_hour=2)
    )
    store.observe([incident(1), incident(2), incident(3)], now=T0)
    first = store.flush(channels, now=T0)
    assert first.held_back == 2  # one per channel
    assert len(smtp_inbox.messages) == 2 and len(webhook_inbox.payloads) == 2
    assert store.flush(channels, now=T0 + timedelta(minutes=30)).sent == []

    later = store.flush(channels, now=T0 + timedelta(minutes=61))
    assert sorted(later.sent) == [
        ("email", "firing", "check:x:3"),
        ("webhook", "firing", "check:x:3"),
    ]
    assert smtp_inbox.subjects() == [
        "[shutter] ALERT: thing 1 is wrong",
        "[shutter] ALERT: thing 2 is wrong",
        "[shutter] ALERT: thing 3 is wrong",
    ]


@pytest.mark.integration
def test_incident_resolved_before_its_alert_went_out_sends_nothing(pg_settings, smtp_inbox):
    store, channels = store_and_channels(
        pg_settings, settings_for(smtp_inbox, rate_limit_per_hour=0)
    )
    store.observe([incident(1)], now=T0)
    assert store.flush(channels, now=T0).held_back == 1
    store.observe([], evaluated_sources=["check:x"], now=T0 + timedelta(minutes=5))
    store.settings = settings_for(smtp_inbox, rate_limit_per_hour=10)
    assert store.flush(channels, now=T0 + timedelta(hours=2)).sent == []
    assert smtp_inbox.messages == []


@pytest.mark.integration
def test_webhook_down_is_retried_then_given_up_while_email_flows(
    pg_settings, smtp_inbox, webhook_inbox
):
    store, channels = store_and_channels(
        pg_settings, settings_for(smtp_inbox, webhook_inbox.url, max_delivery_attempts=3)
    )
    store.observe([incident(1)], now=T0)
    webhook_inbox.status = 503
    first = store.flush(channels, now=T0)
    assert first.sent == [("email", "firing", "check:x:1")]
    assert first.errors and "HTTP 503" in first.errors[0]
    token = webhook_inbox.url.rsplit("/", 1)[-1]
    assert token not in first.errors[0]  # the URL's token never shows in an error
    webhook_inbox.status = 200
    second = store.flush(channels, now=T0 + timedelta(minutes=1))
    assert second.sent == [("webhook", "firing", "check:x:1")]
    assert len(smtp_inbox.messages) == 1  # email is not sent again

    store.observe([incident(1), incident(2)], now=T0)  # the source still reports incident 1
    webhook_inbox.status = 500
    for minute in range(2, 5):
        result = store.flush(channels, now=T0 + timedelta(minutes=minute))
    assert result.given_up == ["webhook: check:x:2"]
    assert store.flush(channels, now=T0 + timedelta(minutes=9)).errors == []  # not retried again
    assert len(webhook_inbox.raw) == 2 + 3


@pytest.mark.integration
def test_a_reopened_incident_is_a_new_episode_with_its_own_alert_and_recovery(
    pg_settings, smtp_inbox
):
    store, channels = store_and_channels(pg_settings, settings_for(smtp_inbox))
    for hour in range(2):
        now = T0 + timedelta(hours=hour)
        store.observe([incident(1)], now=now)
        store.observe([incident(1)], now=now + timedelta(minutes=1))  # still open: nothing new
        store.flush(channels, now=now + timedelta(minutes=1))
        store.observe([], evaluated_sources=["check:x"], now=now + timedelta(minutes=2))
        store.flush(channels, now=now + timedelta(minutes=2))
    assert [m["X-Shutter-Status"] for m in smtp_inbox.messages] == [
        "firing",
        "resolved",
        "firing",
        "resolved",
    ]
    assert "episode 2" in smtp_inbox.messages[2].get_content()


# -- SMTP with STARTTLS and login ---------------------------------------------------------------


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, PEM files (cryptography comes with paramiko)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_smtp(tmp_path):
    """aiosmtpd requiring STARTTLS before AUTH, with a self-signed certificate for 127.0.0.1."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = SmtpInbox("127.0.0.1", free_port())
    logins: list[tuple[str, str]] = []
    password = secrets.token_urlsafe(12)  # a fresh one each run

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == password.encode(), handled=False)

    controller = Controller(
        inbox,
        hostname=inbox.host,
        port=inbox.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox, cert, logins, password
    finally:
        controller.stop()


@pytest.mark.integration
def test_starttls_with_login_delivers_and_a_wrong_password_is_a_clear_error(tls_smtp):
    inbox, cert, logins, password = tls_smtp
    message = Message("check:x:1", "firing", "[shutter] ALERT: x", "body", "now")
    good = AlertSettings(
        smtp_host=inbox.host,
        smtp_port=inbox.port,
        smtp_user="alerts",
        smtp_password=password,
        smtp_ca_file=str(cert),
        smtp_timeout_s=5,
        email_to=("ops@plant.example",),
    )
    EmailChannel(good).send(message)
    assert inbox.subjects() == ["[shutter] ALERT: x"]
    assert logins == [("alerts", password)]

    wrong = secrets.token_urlsafe(12)
    bad = AlertSettings(**{**good.__dict__, "smtp_password": wrong})
    with pytest.raises(DeliveryError, match="refused the login of 'alerts'") as err:
        EmailChannel(bad).send(message)
    assert wrong not in str(err.value)
    untrusted = AlertSettings(**{**good.__dict__, "smtp_ca_file": ""})
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        EmailChannel(untrusted).send(message)
    assert len(inbox.messages) == 1


@pytest.mark.integration
def test_required_starttls_missing_on_the_server_is_refused_before_login(smtp_inbox):
    settings = AlertSettings(
        smtp_host=smtp_inbox.host,
        smtp_port=smtp_inbox.port,
        smtp_user="alerts",
        smtp_password=secrets.token_urlsafe(12),
        email_to=("ops@plant.example",),
    )
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as err:
        EmailChannel(settings).send(Message("k", "firing", "s", "b", "now"))
    assert settings.smtp_password not in str(err.value)
    assert smtp_inbox.messages == []


@pytest.mark.integration
def test_unreachable_smtp_server_is_a_delivery_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        settings = AlertSettings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, email_to=("a@x.example",)
        )
        with pytest.raises(DeliveryError, match=f"127.0.0.1:{port}"):
            EmailChannel(settings).send(Message("k", "firing", "s", "b", "now"))


# -- stuck inputs and freshness through Dagster ------------------------------------------------


@pytest.mark.integration
def test_stuck_log_files_names_rejected_and_refused_files(
    platform: Platform, smtp_inbox, webhook_inbox
):
    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor

    platform.write("CU-01_20261120_060000.log", ["2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;"])
    (platform.drop / "CU-02_20261120_060000.log").write_text("not;a;header\n")
    assert platform.ingest().success
    (platform.drop / "CU-05\tbad.log").write_text("x")

    result = platform.run_checks("raw__ingested_files_stuck_log_files")
    (check,) = result.get_asset_check_evaluations()
    failing = check.metadata["failing"].value
    # the unreadable name is shown as the drop client prints it (a tab, or its escape)
    (unreadable,) = [name for name in failing if name.startswith("CU-05")]
    assert set(failing) == {"CU-02_20261120_060000.log", unreadable}
    assert "rejected whole" in failing["CU-02_20261120_060000.log"]

    platform.tick(monitoring_alerts_sensor, repository=True)
    subjects = smtp_inbox.subjects()
    assert len(subjects) == 2
    assert any("CU-02_20261120_060000.log" in s for s in subjects)
    assert any(unreadable in s or "CU-05" in s for s in subjects)
    assert len(webhook_inbox.payloads) == 2
    assert_no_secret(smtp_inbox, webhook_inbox)


@pytest.mark.integration
def test_files_the_sensor_keeps_failing_to_load_alert_once_each_and_recover(
    platform: Platform, smtp_inbox
):
    from shutter_assets.defs.machine_logs.checks import files_failing_evaluation
    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor
    from shutter_assets.lib.log_selection import FailingFile

    def sensor_reports(*paths: str) -> None:
        """The evaluation machine_logs_sensor emits when the set of failing files changes."""
        failing = [FailingFile(p, 10, T0, 3, True) for p in paths]
        platform.instance.report_runless_asset_event(files_failing_evaluation(failing))
        platform.tick(monitoring_alerts_sensor, repository=True)

    sensor_reports("CU-07_20261120_060000.log")
    sensor_reports("CU-07_20261120_060000.log", "CU-08_20261120_060000.log")
    sensor_reports("CU-08_20261120_060000.log")
    sensor_reports()
    assert smtp_inbox.subjects() == [
        "[shutter] ALERT: files_failing on raw/machine_events: CU-07_20261120_060000.log",
        "[shutter] ALERT: files_failing on raw/machine_events: CU-08_20261120_060000.log",
        "[shutter] RESOLVED: files_failing on raw/machine_events: CU-07_20261120_060000.log",
        "[shutter] RESOLVED: files_failing on raw/machine_events: CU-08_20261120_060000.log",
    ]
    assert "offered 3 time(s)" in smtp_inbox.messages[0].get_content()


@pytest.mark.integration
def test_table_whose_sync_keeps_failing_is_named_once(platform: Platform, smtp_inbox, monkeypatch):
    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor

    monkeypatch.setenv("MYSQL_PORT", str(free_port()))  # the ERP is unreachable
    monkeypatch.setenv("ALERT_SYNC_FAILURES", "2")
    job = platform.repo.get_job("legacy_orders_sync_job")
    for _ in range(2):
        run = job.execute_in_process(
            instance=platform.instance,
            raise_on_error=False,
            tags={"shutter/pipeline": "legacy_orders"},
        )
        assert not run.success
    ops = [f"raw_commandes__{t}_sync_keeps_failing" for t in ("clients", "commandes")]
    result = platform.run_checks(*ops)
    evaluations = {e.asset_key.path[1]: e for e in result.get_asset_check_evaluations()}
    assert {t: e.passed for t, e in evaluations.items()} == {"clients": False, "commandes": False}
    assert set(evaluations["clients"].metadata["failing"].value) == {"raw_commandes.clients"}

    platform.tick(monitoring_alerts_sensor, repository=True)
    platform.tick(monitoring_alerts_sensor, repository=True)
    assert sorted(s.split(": ")[-1] for s in smtp_inbox.subjects()) == [
        "raw_commandes.clients",
        "raw_commandes.commandes",
    ]


@pytest.mark.integration
def test_stale_raw_table_fails_its_freshness_check_alerts_once_and_recovers(
    platform: Platform, smtp_inbox, webhook_inbox, monkeypatch
):
    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor

    monkeypatch.setenv("ALERT_FRESHNESS_MACHINE_LOGS_S", "2")
    platform.write("CU-01_20261120_060000.log", ["2026-11-20 06:00:00;CU-01;STATE;;;RUNNING;"])
    assert platform.ingest().success
    time.sleep(3)
    key = dg.AssetCheckKey(dg.AssetKey(["raw", "machine_events"]), "freshness_check")
    checks_def = platform.repo.asset_checks_defs_by_key[key]
    job = platform.defs.resolve_job_def("freshness_checks_job")
    result = job.execute_in_process(
        instance=platform.instance, raise_on_error=False, op_selection=[checks_def.node_def.name]
    )
    (events,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path == ["raw", "machine_events"]
    ]
    assert not events.passed
    platform.tick(monitoring_alerts_sensor, repository=True)
    freshness = [s for s in smtp_inbox.subjects() if "raw/machine_events" in s]
    assert freshness == ["[shutter] ALERT: freshness_check failed on raw/machine_events"]
    platform.tick(monitoring_alerts_sensor, repository=True)

    platform.write("CU-01_20261120_070000.log", ["2026-11-20 07:00:00;CU-01;STATE;;;IDLE;"])
    assert platform.ingest().success  # the freshness check runs with the materialization
    platform.tick(monitoring_alerts_sensor, repository=True)
    freshness = [s for s in smtp_inbox.subjects() if "raw/machine_events" in s]
    assert freshness == [
        "[shutter] ALERT: freshness_check failed on raw/machine_events",
        "[shutter] RESOLVED: freshness_check failed on raw/machine_events",
    ]


def record_tick(instance, name: str, status, error: str | None = None, schedule: bool = False):
    """The records the sensor (or schedule) daemon writes for an instigator and one tick."""
    from dagster._core.remote_origin import RemoteInstigatorOrigin
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
        SensorInstigatorData,
        TickData,
    )
    from dagster._utils.error import SerializableErrorInfo

    kind = InstigatorType.SCHEDULE if schedule else InstigatorType.SENSOR
    data = (
        ScheduleInstigatorData(cron_schedule="*/15 * * * *")
        if schedule
        else SensorInstigatorData(min_interval=30)
    )
    origin = RemoteInstigatorOrigin(repository_origin(), name)
    state = InstigatorState(origin, kind, InstigatorStatus.RUNNING, data)
    if instance.get_instigator_state(state.instigator_origin_id, state.selector_id) is None:
        instance.add_instigator_state(state)
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=name,
            instigator_type=kind,
            status=status,
            timestamp=time.time(),
            selector_id=state.selector_id,
            run_ids=[],
            error=SerializableErrorInfo(error, [], "DropError") if error else None,
        )
    )


@pytest.mark.integration
def test_failing_sensor_or_schedule_tick_alerts_once_and_recovers_on_its_next_good_tick(
    platform: Platform, smtp_inbox, webhook_inbox
):
    from dagster._core.scheduler.instigation import TickStatus

    from shutter_assets.defs.monitoring.sensors import monitoring_alerts_sensor
    from tests.fixtures.monitoring import PG_SECRET

    error = f"DropError: cannot list ftp://machines:{PG_SECRET}@10.0.0.5/drop: timed out"
    record_tick(platform.instance, "machine_logs_sensor", TickStatus.FAILURE, error)
    platform.tick(monitoring_alerts_sensor, repository=True)
    record_tick(platform.instance, "machine_logs_sensor", TickStatus.FAILURE, error)
    platform.restart()
    platform.tick(monitoring_alerts_sensor, repository=True)
    assert smtp_inbox.subjects() == ["[shutter] ALERT: sensor machine_logs_sensor is failing"]
    assert "ftp://machines:***@10.0.0.5" in smtp_inbox.messages[0].get_content()

    record_tick(platform.instance, "machine_logs_sensor", TickStatus.SKIPPED)
    platform.tick(monitoring_alerts_sensor, repository=True)
    assert smtp_inbox.subjects()[1:] == [
        "[shutter] RESOLVED: sensor machine_logs_sensor is failing"
    ]
    assert [p["status"] for p in webhook_inbox.payloads] == ["firing", "resolved"]

    # A schedule whose tick fails (its job cannot be submitted) alerts and recovers the same way.
    schedule = "legacy_orders_schedule"
    record_tick(platform.instance, schedule, TickStatus.FAILURE, "no code server", schedule=True)
    platform.tick(monitoring_alerts_sensor, repository=True)
    record_tick(platform.instance, schedule, TickStatus.SUCCESS, schedule=True)
    platform.tick(monitoring_alerts_sensor, repository=True)
    assert smtp_inbox.subjects()[2:] == [
        f"[shutter] ALERT: schedule {schedule} is failing",
        f"[shutter] RESOLVED: schedule {schedule} is failing",
    ]
    assert_no_secret(smtp_inbox, webhook_inbox)
