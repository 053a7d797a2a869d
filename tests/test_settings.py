"""The settings loader: one default per setting, the environment read in one place, secrets also
from ``<VAR>_FILE`` (Docker secrets). No server."""

from __future__ import annotations

import re
import secrets
from dataclasses import fields

import pytest

from shutter_api.settings import ApiSettings
from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.drop import DropSettings
from shutter_assets.lib.log_settings import MachineLogsSettings
from shutter_assets.lib.monitoring.redact import redact, secret_values
from shutter_assets.lib.monitoring.settings import AlertSettings
from shutter_assets.lib.settings import SettingsError, from_env
from tests.fixtures.settings import SETTINGS, all_secret_variables, settings_env

# Generated per run, with the characters that trip quoting; the trailing space is kept (only
# newlines are stripped).
SECRET = f"{secrets.token_urlsafe(8)}$t 'with' spaces "


def load(cls, environ):
    prefix, skip = SETTINGS[cls]
    return from_env(cls, environ, prefix=prefix, skip=skip)


@pytest.mark.parametrize("cls", list(SETTINGS), ids=lambda c: c.__name__)
def test_an_empty_environment_gives_the_defaults(cls):
    assert load(cls, {}) == cls()


def test_settings_come_back_from_their_environment():
    objects = [
        PostgresSettings("db.plant", 6543, "etl", "pw", "dw"),
        MySQLSettings("erp", 3307, "ro", "pw2", "orders"),
        DropSettings("sftp", "ftp.plant", 2222, "m", "p", "in", "/kh", True, 30.0, "/ca.pem"),
        MachineLogsSettings(batch_size=9, archive=True, max_reject_rate=0.25),
        AlertSettings(smtp_port=2525, smtp_starttls=False, email_to=("a@x", "b@x")),
    ]
    env = settings_env(*objects)
    assert env["SFTP_INSECURE_ACCEPT_ANY_HOST_KEY"] == "1"
    assert env["LOGS_MAX_REJECT_RATE"] == "0.25"
    assert [load(type(o), env) for o in objects] == objects


def test_empty_keeps_the_default_but_an_empty_redis_url_turns_the_cache_off():
    assert PostgresSettings.from_env({"POSTGRES_PORT": "", "POSTGRES_HOST": ""}) == (
        PostgresSettings()
    )
    assert ApiSettings.from_env({}).redis_url.startswith("redis://")
    assert ApiSettings.from_env({"REDIS_URL": ""}).redis_url == ""


def test_a_bad_value_names_its_variable_and_never_shows_a_secret():
    with pytest.raises(SettingsError, match="LOGS_BATCH_SIZE='many'"):
        MachineLogsSettings.from_env({"LOGS_BATCH_SIZE": "many"})
    with pytest.raises(ValueError, match="API_KEYS"):
        ApiSettings.from_env({"API_KEYS": "not-a-key"})
    assert "pw" not in repr(PostgresSettings(password="pw"))
    password = secrets.token_urlsafe(12)
    assert password not in repr(AlertSettings(smtp_password=password))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOGS_BATCH_SIZE", "0"),
        ("LOGS_BATCH_SIZE", "-5"),
        ("LOGS_MIN_AGE_S", "-30"),
        ("LOGS_MAX_ATTEMPTS", "0"),
        ("LOGS_MAX_REJECT_RATE", "5"),
        ("LOGS_MAX_REJECT_RATE", "-1"),
        ("LOGS_MAX_REJECT_RATE", "nan"),
        ("LOGS_SENSOR_INTERVAL_S", "0"),
        ("LOGS_ARCHIVE", "maybe"),
        ("LEGACY_ORDERS_FETCH_ROWS", "0"),
        ("LEGACY_ORDERS_FETCH_ROWS", "-1"),
        ("LEGACY_ORDERS_OVERLAP_S", "-600"),
        ("LEGACY_ORDERS_RECONCILE_INTERVAL_S", "-1"),
        ("LEGACY_ORDERS_WORKERS", "0"),
        ("LEGACY_ORDERS_PARALLEL_MIN_ROWS", "-1"),
        ("SFTP_INSECURE_ACCEPT_ANY_HOST_KEY", "2"),
    ],
)
def test_a_value_out_of_its_range_stops_the_load_naming_the_variable(variable, value):
    """A number that parses but cannot work (a zero fetch size ends in an IndexError deep in a
    sync, a negative overlap skips rows, a ratio over 1 disables its check) and a boolean word
    that is neither true nor false are refused when the settings load."""
    from shutter_assets.defs.legacy_orders.settings import sync_options_from_env
    from shutter_assets.lib.drop import DropSettings

    load = {
        "LOGS_": MachineLogsSettings.from_env,
        "LEGACY_ORDERS_": sync_options_from_env,
        "SFTP_": DropSettings.from_env,
    }[variable.split("_")[0] + "_" if not variable.startswith("LEGACY") else "LEGACY_ORDERS_"]
    with pytest.raises(SettingsError, match=f"{variable}='{re.escape(value)}'"):
        load({variable: value})
    # the bounds themselves are accepted
    assert MachineLogsSettings.from_env({"LOGS_MAX_REJECT_RATE": "1", "LOGS_MIN_AGE_S": "0"})
    assert sync_options_from_env({"LEGACY_ORDERS_OVERLAP_S": "0"}).overlap_s == 0


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_a_secret_is_read_from_its_file(tmp_path, ending):
    secret = tmp_path / "pg_password"
    secret.write_text(SECRET + ending, encoding="utf-8")
    env = {"POSTGRES_PASSWORD_FILE": str(secret), "POSTGRES_PASSWORD": ""}  # compose sets it ''
    assert PostgresSettings.from_env(env).password == SECRET
    api = ApiSettings.from_env({"API_DB_PASSWORD_FILE": str(secret)})
    assert api.db_password == SECRET


def test_every_secret_accepts_a_file(tmp_path):
    """Each secret variable, given only as <VAR>_FILE, reaches its settings object."""
    secrets = sorted(all_secret_variables())
    assert {"POSTGRES_PASSWORD", "MYSQL_PASSWORD", "FTP_PASSWORD", "API_DB_PASSWORD"} <= set(
        secrets
    )
    assert {"ALERT_SMTP_PASSWORD", "ALERT_WEBHOOK_URL", "BI_READONLY_PASSWORD"} <= set(secrets)
    for name in secrets:
        path = tmp_path / name
        path.write_text(f"from-file-{name}\n")
        env = {f"{name}_FILE": str(path)}
        values = [
            getattr(obj, f.name)
            for cls in SETTINGS
            for obj in [load(cls, env)]
            for f in fields(obj)
            if f.init
        ]
        assert f"from-file-{name}" in values, name


def test_a_secret_given_twice_or_unreadable_is_a_clear_error(tmp_path):
    secret = tmp_path / "ftp"
    secret.write_text("x\n")
    with pytest.raises(SettingsError, match="FTP_PASSWORD and FTP_PASSWORD_FILE are both set"):
        DropSettings.from_env({"FTP_PASSWORD": "y", "FTP_PASSWORD_FILE": str(secret)})
    with pytest.raises(SettingsError, match="MYSQL_PASSWORD_FILE='/nonexistent/pw' cannot be"):
        MySQLSettings.from_env({"MYSQL_PASSWORD_FILE": "/nonexistent/pw"})


def test_only_secrets_read_a_file(tmp_path):
    host = tmp_path / "host"
    host.write_text("elsewhere\n")
    assert PostgresSettings.from_env({"POSTGRES_HOST_FILE": str(host)}).host == "127.0.0.1"


def test_alerts_mask_a_secret_given_as_a_file(tmp_path):
    secret = tmp_path / "smtp"
    secret.write_text("smtp-pass-42\n")
    env = {"ALERT_SMTP_PASSWORD_FILE": str(secret), "ALERT_SMTP_CA_FILE": "/etc/ca.pem"}
    secrets = secret_values(env)
    assert secrets == ["smtp-pass-42"]
    assert redact("login failed for smtp-pass-42", secrets) == "login failed for ***"
