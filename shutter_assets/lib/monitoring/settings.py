"""Monitoring and alerting settings: every ``ALERT_*`` variable, its default, read in one place.

No Dagster here. ``AlertSettings.from_env()`` is called when a sensor tick, a check or the
definitions load (freshness lags shape the checks themselves), never at import time.
Durations are seconds; an empty ``ALERT_SMTP_HOST`` or ``ALERT_WEBHOOK_URL`` turns that channel off.
``ALERT_SMTP_PASSWORD`` and ``ALERT_WEBHOOK_URL`` may come from ``<VAR>_FILE`` (lib/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from shutter_assets.lib.settings import FromEnv, secret, variables


@dataclass(frozen=True)
class AlertSettings(FromEnv):
    """Thresholds of the monitoring checks and where alerts go (docs/operations.md)."""

    ENV_PREFIX = "ALERT_"

    # Freshness: an asset not materialized for longer than its lag fails its freshness check.
    freshness_machine_logs_s: int = 7200
    freshness_legacy_orders_s: int = 3600
    freshness_marts_s: int = 7200
    # Stuck inputs: a table whose sync failed this many runs in a row; rejected files are reported
    # for this long unless a later version of the path loaded (files that keep failing to load:
    # LOGS_MAX_ATTEMPTS, the machine-logs sensor's files_failing check).
    sync_failures: int = 3
    rejected_window_s: int = 86400
    # Email (SMTP). STARTTLS is used when the server offers it unless smtp_starttls is off;
    # a required STARTTLS that the server does not offer is an error (never a silent plain login).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: str = secret()
    smtp_ca_file: str = ""
    smtp_timeout_s: float = 20.0
    email_from: str = "shutter-platform@localhost"
    email_to: tuple[str, ...] = ()
    # Webhook: Slack / Teams / Mattermost-style incoming webhook (JSON with a "text" field).
    webhook_url: str = secret()
    webhook_timeout_s: float = 10.0
    # At most this many messages per channel per hour; the rest wait for the next hour.
    rate_limit_per_hour: int = 20
    # Delivery attempts of one message before it is given up (logged as an error).
    max_delivery_attempts: int = 5
    # Link to the Dagster UI in messages (empty: no link).
    ui_url: str = ""
    # Prefix of every subject line, so a plant with several platforms can tell them apart.
    subject_prefix: str = "[shutter]"

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.email_to)

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.webhook_url)


def variable_names() -> list[str]:
    """Every ``ALERT_*`` variable (documentation and tests keep .env.example complete)."""
    return variables(AlertSettings, "ALERT_")
