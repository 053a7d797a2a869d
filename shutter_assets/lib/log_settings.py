"""Tuning of the machine-log ingestion: every ``LOGS_*`` variable and its default (no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass

from shutter_assets.lib.settings import FromEnv, bounded


@dataclass(frozen=True)
class MachineLogsSettings(FromEnv):
    """How the sensor batches and settles files and when the reject-rate check fails.

    ``batch_size``: files per run; ``min_age_s``: seconds a file version must stay unchanged
    before it is loaded; ``retry_after_s``: seconds before a failed file is offered again;
    ``max_attempts``: attempts before a failing file is left to an operator; ``archive``: move
    a loaded file to ``archive/``; ``max_reject_rate``: ratio 0-1 of rejected lines over which
    the ``reject_rate`` check fails; ``sensor_interval_s``: seconds between two ticks of
    ``machine_logs_sensor`` (read when the definitions load: the interval is part of the sensor's
    definition; Dagster's daemon never ticks a sensor more often than every 5 s). Defaults from
    bench/freshness.py (docs/machine_logs.md, "Freshness").
    """

    ENV_PREFIX = "LOGS_"

    batch_size: int = bounded(50, lo=1)
    min_age_s: int = bounded(10, lo=0)
    retry_after_s: int = bounded(900, lo=0)
    max_attempts: int = bounded(6, lo=1)
    archive: bool = False
    max_reject_rate: float = bounded(0.05, lo=0.0, hi=1.0)
    sensor_interval_s: int = bounded(10, lo=1)
