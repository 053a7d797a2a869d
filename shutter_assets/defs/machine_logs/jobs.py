"""``reprocess_log_file``: re-ingest one named file from the drop as a new version of its path.

Launch it from the UI launchpad (Jobs -> reprocess_log_file) with::

    ops:
      reprocess_log_file_op:
        config:
          path: CU-01_20261120_060000.log
"""

import dagster as dg

from shutter_assets.defs.machine_logs.assets import EVENTS_KEY, REJECTS_KEY
from shutter_assets.defs.resources import LogDropResource, PlantResource, WarehouseResource
from shutter_assets.lib.log_ingest import reprocess_file


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
    tags={"shutter/pipeline": "machine_logs"},
)
def reprocess_log_file():
    reprocess_log_file_op()
