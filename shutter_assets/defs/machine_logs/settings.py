"""Tuning of the machine-log ingestion, from the environment (``LOGS_*`` in .env.example)."""

import os

import dagster as dg

from shutter_assets.defs.resources import _env, _env_int


class MachineLogsSettings(dg.ConfigurableResource):
    """How the sensor batches and settles files and when the reject-rate check fails.

    Strings for the boolean and float settings because ``dg.EnvVar`` resolves to text.
    """

    batch_size: int = 50
    min_age_s: int = 10
    retry_after_s: int = 900
    max_attempts: int = 6
    archive: str = "0"
    max_reject_rate: str = "0.05"

    @property
    def archive_enabled(self) -> bool:
        return self.archive.strip().lower() in ("1", "true", "yes", "on")

    @property
    def reject_rate_limit(self) -> float:
        return float(self.max_reject_rate)


def build_machine_logs_settings() -> MachineLogsSettings:
    return MachineLogsSettings(
        batch_size=_env_int("LOGS_BATCH_SIZE", 50),
        min_age_s=_env_int("LOGS_MIN_AGE_S", 10),
        retry_after_s=_env_int("LOGS_RETRY_AFTER_S", 900),
        max_attempts=_env_int("LOGS_MAX_ATTEMPTS", 6),
        archive=_env("LOGS_ARCHIVE", "0"),
        max_reject_rate=_env("LOGS_MAX_REJECT_RATE", "0.05"),
    )


def sensor_interval_s() -> int:
    """Seconds between two ticks of ``machine_logs_sensor`` (``LOGS_SENSOR_INTERVAL_S``, default
    10; Dagster's sensor daemon never ticks a sensor more often than every 5 s). Read when the
    definitions load: a sensor's interval is part of its definition."""
    return int(os.environ.get("LOGS_SENSOR_INTERVAL_S") or 10)


@dg.definitions
def machine_logs_resources() -> dg.Definitions:
    return dg.Definitions(resources={"machine_logs": build_machine_logs_settings()})
