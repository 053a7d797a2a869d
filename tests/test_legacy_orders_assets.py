"""The Dagster side of the legacy orders sync: assets, metadata, schedule, resources."""

from __future__ import annotations

import dagster as dg
import pytest

from shutter_assets.defs.legacy_orders.assets import asset_key, legacy_orders_assets
from shutter_assets.defs.legacy_orders.schedule import (
    SCHEDULE_NAME,
    build_legacy_orders_schedule,
    legacy_orders_schedule_defs,
)
from shutter_assets.defs.legacy_orders.settings import (
    legacy_orders_resources,
    sync_options_from_env,
)
from shutter_assets.defs.resources import as_resources
from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.mysql_sync import TABLE_SPECS, SyncOptions
from shutter_assets.lib.plant import PlantSettings
from tests.fixtures.legacy_orders import (
    apply_init_sql,
    assert_mirror_equals_source,
    mysql_exec,
    seed,
)

pytestmark = pytest.mark.integration


def _resources(mysql_settings, pg_settings, **sync) -> dict:
    return as_resources(pg_settings, mysql_settings, SyncOptions(**sync))


def _metadata(result: dg.ExecuteInProcessResult, table: str) -> dict:
    mats = [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key == asset_key(table)
    ]
    assert len(mats) == 1
    return {k: v.value for k, v in mats[0].metadata.items()}


def test_one_asset_per_table_in_group_raw_commandes():
    keys = {key for a in legacy_orders_assets for key in a.keys}
    assert keys == {dg.AssetKey(["raw_commandes", s.name]) for s in TABLE_SPECS}
    for a in legacy_orders_assets:
        assert set(a.group_names_by_key.values()) == {"raw_commandes"}
        assert {"warehouse", "legacy_orders", "legacy_orders_sync"} <= a.required_resource_keys


def test_schedule_every_15_minutes_in_plant_zone_targets_every_table():
    schedule = build_legacy_orders_schedule()
    assert schedule.name == SCHEDULE_NAME
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.execution_timezone == PlantSettings().timezone
    defs = dg.Definitions(
        assets=legacy_orders_assets,
        schedules=[schedule],
        resources=as_resources(PostgresSettings(), MySQLSettings(), SyncOptions()),
    )
    job = defs.resolve_job_def(schedule.job_name)
    assert set(job.asset_layer.selected_asset_keys) == {asset_key(s.name) for s in TABLE_SPECS}


def test_feature_definitions_carry_the_schedule_and_the_tuning_resource(monkeypatch):
    monkeypatch.setenv("PLANT_TIMEZONE", "America/Montreal")
    schedules = legacy_orders_schedule_defs().schedules
    assert [s.name for s in schedules] == [SCHEDULE_NAME]
    assert schedules[0].execution_timezone == "America/Montreal"
    assert "legacy_orders_sync" in legacy_orders_resources().resources


def test_tuning_knobs_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEGACY_ORDERS_OVERLAP_S", "120")
    monkeypatch.setenv("LEGACY_ORDERS_WORKERS", "4")
    monkeypatch.setenv("LEGACY_ORDERS_RECONCILE_BUCKET", "7")
    monkeypatch.setenv("LEGACY_ORDERS_RECONCILE_INTERVAL_S", "3600")
    options = sync_options_from_env()
    assert (options.overlap_s, options.workers, options.reconcile_interval_s) == (120, 4, 3600)
    assert options.reconcile_bucket == SyncOptions().reconcile_bucket  # not a setting


def test_materializing_the_assets_syncs_and_reports_metadata(mysql_settings, pg_settings):
    apply_init_sql(mysql_settings)
    seed(mysql_settings)
    resources = _resources(mysql_settings, pg_settings, reconcile_interval_s=0)
    first = dg.materialize(legacy_orders_assets, resources=resources)
    assert first.success
    meta = _metadata(first, "lignes_commande")
    assert meta["rows_inserted"] == 120
    assert meta["mode"] == "initial"
    assert meta["high_water_mark"] == "2026-01-28T12:00:00+00:00"
    for spec in TABLE_SPECS:
        assert_mirror_equals_source(mysql_settings, pg_settings, spec.name)

    mysql_exec(
        mysql_settings,
        [
            "DELETE FROM lignes_commande WHERE id_ligne IN (1, 2)",
            "UPDATE lignes_commande SET quantite = 5, date_maj = '2026-02-01 00:00:00'"
            " WHERE id_ligne = 3",
            "ALTER TABLE lignes_commande ADD COLUMN remise DECIMAL(5,2)",
        ],
    )
    second = dg.materialize(
        [a for a in legacy_orders_assets if asset_key("lignes_commande") in a.keys],
        resources=resources,
    )
    meta = _metadata(second, "lignes_commande")
    assert (meta["rows_inserted"], meta["rows_updated"], meta["rows_deleted"]) == (0, 1, 2)
    assert meta["new_columns"] == ["remise"]
    assert meta["dropped_columns"] == []
    assert meta["high_water_mark"] == "2026-02-01T00:00:00+00:00"
    assert_mirror_equals_source(mysql_settings, pg_settings, "lignes_commande")


def test_failed_sync_fails_the_run_with_the_operator_message(mysql_settings, pg_settings):
    # no init.sql: the tables do not exist at the source
    resources = _resources(mysql_settings, pg_settings)
    result = dg.materialize(
        [a for a in legacy_orders_assets if asset_key("clients") in a.keys],
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    text = failure.to_string()
    assert "LegacySyncError" in text
    assert f"{mysql_settings.database}.clients not found in MySQL" in text
    assert "MYSQL_DATABASE" in text
