"""Every dbt model, seed and test as Dagster assets and asset checks, on one lineage graph.

Keys are ``[<schema>, <model>]`` (``["marts", "machine_oee_daily"]``); the dbt sources carry
``meta.dagster.asset_key`` so they resolve to the ingestion assets (``["raw", "machine_events"]``,
``["raw_commandes", "commandes"]``...), hence one graph from each raw table to every mart. dbt
tests become asset checks (dagster-dbt's default).

Two ways a build starts: the machine-log sensor's runs (``machine_logs_to_marts``) build every
model downstream of the files they just loaded, in the same run; after any other raw update (the
MySQL sync, the reprocess job) declarative automation does: ``AutomationCondition.eager()`` on
every dbt asset, evaluated by ``dbt_automation_sensor``, requests the downstream models. ``eager()``
waits while an upstream is in progress, so no build reads raw while it changes; after a
``machine_logs_to_marts`` run it requests nothing (that run selects the models, so its raw updates
are not triggers for them: ``machine_logs/sensor.py``).
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from shutter_assets.defs.dbt.project import dbt_project
from shutter_assets.defs.dbt.resources import DbtTargetRetention
from shutter_assets.defs.execution import TABLE_METADATA_TAG
from shutter_assets.lib.retention import prune_dbt_targets


class ShutterDbtTranslator(DagsterDbtTranslator):
    """Groups by warehouse schema (staging, intermediate, marts); eager automation for all."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("config", {}).get("schema") or "dbt"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        return dg.AutomationCondition.eager()


class DbtBuildConfig(dg.Config):
    """Launchpad switch for rebuilding incremental models from scratch.

    Needed after a model's columns changed (dbt refuses an incremental run whose columns differ
    from the table's: ``on_schema_change='fail'``), after editing the ``programs`` seed, or to
    re-pair events of a late file with already closed alarms (docs/dbt.md).
    """

    full_refresh: bool = False


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=ShutterDbtTranslator(),
    name="shutter_dbt",
)
def shutter_dbt(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    dbt_targets: DbtTargetRetention,
    config: DbtBuildConfig,
):
    """``dbt build`` of the selected models: seeds, models and their tests, with row counts and
    column types (unless the run carries ``TABLE_METADATA_TAG: "false"``).

    Each invocation writes its own ``target/shutter_dbt-<run>-<id>/`` (artifacts and dbt.log);
    only the ``DBT_TARGET_KEEP`` most recent stay (``shutter_assets.lib.retention``).
    """
    args = ["build", "--full-refresh"] if config.full_refresh else ["build"]
    invocation = dbt.cli(args, context=context)
    try:
        if context.run.tags.get(TABLE_METADATA_TAG) == "false":
            yield from invocation.stream()
            return
        # Column types without column lineage: sqlglot parsing every model's SQL cost tens of
        # seconds of CPU per build on a loaded 2-core server, and events are yielded in dbt's
        # order, so the marts' materializations waited for it.
        events = invocation.stream().fetch_row_counts()
        yield from events.fetch_column_metadata(with_column_lineage=False)
    finally:
        prune_dbt_targets(
            invocation.target_path.parent,
            context.op_execution_context.op.name,
            dbt_targets.dbt_target_keep,
            current=invocation.target_path,
        )
