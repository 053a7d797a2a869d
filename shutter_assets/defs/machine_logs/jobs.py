"""The machine-log jobs.

``machine_logs_to_marts``: what ``machine_logs_sensor`` launches. One run loads the sensor's
files into ``raw.*`` and then builds, in the same run, every asset downstream of those tables
(the dbt models and tests, the read-only roles, the API's data version). A file's lines reach
the marts one run after it settles, without waiting for a gap between ingestion runs for the
automation sensor to fill (issue 18; docs/machine_logs.md, "Freshness"). No dbt build ever
reads ``raw`` while files commit: the build follows the load in the run, and ingestion runs
are one at a time. Both tags are limited to one run at a time by dagster.yaml.

``reprocess_log_file``: re-ingest one named file from the drop as a new version of its path.
Launch it from the UI launchpad (Jobs -> reprocess_log_file) with::

    ops:
      reprocess_log_file_op:
        config:
          path: CU-01_20261120_060000.log
"""

import dagster as dg

from shutter_assets.defs.execution import DBT_BUILD_TAGS, TABLE_METADATA_TAG
from shutter_assets.defs.machine_logs.assets import EVENTS_KEY, REJECTS_KEY, ingest_machine_logs
from shutter_assets.defs.resources import LogDropResource, PlantResource, WarehouseResource
from shutter_assets.lib.log_ingest import reprocess_file

# dagster.yaml runs one ingestion at a time (whatever job), and one dbt build.
MACHINE_LOGS_TAGS = {"shutter/pipeline": "machine_logs"}

# The sensor names these assets in each run request (``sensor.py``): a run whose selection names
# an asset is, for declarative automation, a run that builds it itself, so the raw updates it
# makes do not trigger ``eager()`` on the models it is about to build (docs/machine_logs.md,
# "Freshness").
MACHINE_LOGS_TO_MARTS_SELECTION = dg.AssetSelection.assets(ingest_machine_logs).downstream()

machine_logs_to_marts = dg.define_asset_job(
    "machine_logs_to_marts",
    selection=MACHINE_LOGS_TO_MARTS_SELECTION,
    description="Load settled log files into raw.* (config: paths), then build everything "
    "downstream of them in the same run: dbt models and tests, roles, the API's data version.",
    # No row counts or column types on this path: they delay the marts' materializations.
    tags={**MACHINE_LOGS_TAGS, **DBT_BUILD_TAGS, TABLE_METADATA_TAG: "false"},
)


class ReprocessLogFileConfig(dg.Config):
    """The file's path relative to the drop root, as in ``raw.ingested_files.path``."""

    path: str


@dg.op(description="Re-read one log file and replace its rows in raw.* in one transaction.")
def reprocess_log_file_op(
    context: dg.OpExecutionContext,
    config: ReprocessLogFileConfig,
    warehouse: WarehouseResource,
    log_drop: LogDropResource,
    plant: PlantResource,
):
    with log_drop.open() as drop:
        res = reprocess_file(
            warehouse.settings, drop, config.path, plant_tz=plant.timezone, run_id=context.run_id
        )
    context.log.info(
        f"{res.path}: {res.status}, {res.rows} rows, {res.rejects} rejects (file_id {res.file_id})"
    )
    metadata = {
        "path": dg.MetadataValue.text(res.path),
        "file_id": dg.MetadataValue.int(res.file_id or 0),
        "status": dg.MetadataValue.text(res.status),
        "rows": dg.MetadataValue.int(res.rows),
        "rejects": dg.MetadataValue.int(res.rejects),
        "versions_replaced": dg.MetadataValue.int(res.replaced),
    }
    yield dg.AssetMaterialization(asset_key=EVENTS_KEY, metadata=metadata)
    yield dg.AssetMaterialization(asset_key=REJECTS_KEY, metadata={"rejects": res.rejects})
    yield dg.Output(res.status)


@dg.job(
    description="Re-ingest one named log file (config: path), replacing its earlier rows.",
    tags=MACHINE_LOGS_TAGS,
)
def reprocess_log_file():
    reprocess_log_file_op()
