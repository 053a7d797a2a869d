"""Freshness checks: each raw table and each mart has an expected update lag.

Dagster's own builders: ``build_last_update_freshness_checks`` (fails when the asset was not
materialized within its lag) and ``build_sensor_for_freshness_checks`` (re-evaluates each check
when it could change). ERROR severity, so a stale asset reaches the alert sensor.

Lags come from ``ALERT_FRESHNESS_*`` and are read when the definitions load (they shape the
checks): change them, then reload the code location.
"""

from datetime import timedelta

import dagster as dg

from shutter_assets.defs.dbt.assets import shutter_dbt
from shutter_assets.lib.monitoring.settings import AlertSettings
from shutter_assets.lib.mysql_sync import TABLE_SPECS, TARGET_SCHEMA

MACHINE_EVENTS_KEY = dg.AssetKey(["raw", "machine_events"])
FRESHNESS_SENSOR = "freshness_checks_sensor"
FRESHNESS_JOB = "freshness_checks_job"


def mart_keys() -> list[dg.AssetKey]:
    return sorted(k for k in shutter_dbt.keys if k.path[0] == "marts")


def build_freshness_checks(settings: AlertSettings) -> list[dg.AssetChecksDefinition]:
    groups = [
        ([MACHINE_EVENTS_KEY], settings.freshness_machine_logs_s),
        (
            [dg.AssetKey([TARGET_SCHEMA, spec.name]) for spec in TABLE_SPECS],
            settings.freshness_legacy_orders_s,
        ),
        (mart_keys(), settings.freshness_marts_s),
    ]
    checks: list[dg.AssetChecksDefinition] = []
    for keys, lag_s in groups:
        checks.extend(
            dg.build_last_update_freshness_checks(
                assets=keys,
                lower_bound_delta=timedelta(seconds=lag_s),
                severity=dg.AssetCheckSeverity.ERROR,
            )
        )
    return checks


@dg.definitions
def freshness_defs() -> dg.Definitions:
    checks = build_freshness_checks(AlertSettings.from_env())
    sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=checks,
        name=FRESHNESS_SENSOR,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        tags={"shutter/pipeline": "monitoring"},
    )
    # Launchpad: evaluate every freshness check now (the sensor does it when one can change).
    job = dg.define_asset_job(
        FRESHNESS_JOB,
        selection=dg.AssetSelection.checks(*checks),
        description="Evaluates every freshness check now.",
        tags={"shutter/pipeline": "monitoring"},
    )
    return dg.Definitions(asset_checks=checks, sensors=[sensor], jobs=[job])
