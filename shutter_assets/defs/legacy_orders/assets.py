"""``raw_commandes/<table>``: one asset per legacy table, all generated from ``TABLE_SPECS``.

Each asset syncs its table in one PostgreSQL transaction (rows, delete marks, schema drift and the
high-water mark together); the work is in ``shutter_assets.lib.mysql_sync``.
"""

import dagster as dg

from shutter_assets.defs.legacy_orders.settings import LegacyOrdersSyncResource
from shutter_assets.defs.resources import LegacyOrdersResource, WarehouseResource
from shutter_assets.lib.mysql_sync import (
    TABLE_SPECS,
    TARGET_SCHEMA,
    TableSpec,
    TableSyncResult,
    sync_table,
)

GROUP = "raw_commandes"


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([TARGET_SCHEMA, table])


def materialization_metadata(result: TableSyncResult) -> dict[str, dg.MetadataValue]:
    hwm = result.high_water_mark
    return {
        "rows_inserted": dg.MetadataValue.int(result.inserted),
        "rows_updated": dg.MetadataValue.int(result.updated),
        "rows_deleted": dg.MetadataValue.int(result.deleted),
        "rows_undeleted": dg.MetadataValue.int(result.undeleted),
        "rows_read": dg.MetadataValue.int(result.rows_read),
        "mode": dg.MetadataValue.text(result.mode),
        "full_read_reason": dg.MetadataValue.text(result.full_read_reason or ""),
        "new_columns": dg.MetadataValue.json(result.new_columns),
        "retyped_columns": dg.MetadataValue.json(result.retyped_columns),
        "dropped_columns": dg.MetadataValue.json(result.dropped_columns),
        "dropped_views": dg.MetadataValue.json(result.dropped_views),
        "invalid_dates_nulled": dg.MetadataValue.json(result.invalid_dates),
        "nul_bytes_removed": dg.MetadataValue.json(result.nul_bytes_removed),
        "type_fallbacks": dg.MetadataValue.json(result.type_fallbacks),
        "high_water_mark": dg.MetadataValue.text(hwm.isoformat() if hwm else ""),
        "reconciled_deletes": dg.MetadataValue.bool(result.reconciled),
        "content_checked_keys": dg.MetadataValue.json(
            [list(r) for r in result.content_checked_keys]
        ),
        "reread_keys": dg.MetadataValue.json([list(r) for r in result.reread_keys]),
        "reconcile_changes": dg.MetadataValue.int(result.reconcile_changes),
        "workers": dg.MetadataValue.int(result.workers),
        "duration_s": dg.MetadataValue.float(result.duration_s),
        "table": dg.MetadataValue.text(f"{TARGET_SCHEMA}.{result.table}"),
    }


def _log_warnings(
    context: dg.AssetExecutionContext, spec: TableSpec, result: TableSyncResult
) -> None:
    """What an operator should know about this run: drift, cleaned values, hidden changes."""
    if result.new_columns or result.retyped_columns:
        context.log.warning(
            f"schema drift on db_commandes.{spec.name}: new columns {result.new_columns}, "
            f"changed types {result.retyped_columns}; the mirror followed and re-read the "
            "table. Tell the dbt staging owners if the new columns matter downstream."
        )
    if result.type_fallbacks:
        context.log.warning(
            f"db_commandes.{spec.name} has columns without a PostgreSQL twin, mirrored "
            f"losslessly in another form: {result.type_fallbacks}"
        )
    if result.invalid_dates or result.nul_bytes_removed:
        context.log.warning(
            f"db_commandes.{spec.name}: values PostgreSQL cannot hold, per column: dates "
            f"that do not exist (now NULL) {result.invalid_dates}, text with NUL bytes "
            f"(removed) {result.nul_bytes_removed}"
        )
    if result.reconcile_changes:
        context.log.warning(
            f"db_commandes.{spec.name}: the reconcile found {result.reconcile_changes} "
            f"change(s) that date_maj did not reveal (re-read keys {result.reread_keys}): "
            "late commits, writers that set date_maj themselves or leave it unchanged, or "
            "inserts dated in the past"
        )
    if result.dropped_views:
        context.log.warning(
            f"views {result.dropped_views} read a column whose type changed and were "
            "dropped; the next dbt build recreates them"
        )
    if result.dropped_columns:
        context.log.warning(
            f"columns {result.dropped_columns} are gone from db_commandes.{spec.name}; they "
            f"are kept in {TARGET_SCHEMA}.{spec.name} with their last values"
        )


def build_table_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=asset_key(spec.name),
        group_name=GROUP,
        kinds={"mysql", "postgres"},
        description=(
            f"Mirror of db_commandes.{spec.name} in {TARGET_SCHEMA}.{spec.name} "
            f"({spec.strategy.replace('_', ' ')}; rows gone at the source get _deleted_at). "
            f"{spec.description}"
        ),
        metadata={"strategy": spec.strategy, "cursor_column": spec.cursor_column or ""},
    )
    def _sync(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        legacy_orders: LegacyOrdersResource,
        legacy_orders_sync: LegacyOrdersSyncResource,
    ) -> dg.MaterializeResult:
        result = sync_table(legacy_orders.settings, warehouse.settings, spec, legacy_orders_sync)
        _log_warnings(context, spec, result)
        context.log.info(
            f"{spec.name}: {result.mode} read of {result.rows_read} rows, "
            f"+{result.inserted} ~{result.updated} -{result.deleted} in {result.duration_s}s"
        )
        return dg.MaterializeResult(metadata=materialization_metadata(result))

    return _sync


legacy_orders_assets = [build_table_asset(spec) for spec in TABLE_SPECS]
LEGACY_ORDERS_SELECTION = dg.AssetSelection.assets(*(asset_key(s.name) for s in TABLE_SPECS))
