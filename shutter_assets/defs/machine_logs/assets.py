"""``raw/machine_events`` (with ``raw/machine_event_rejects`` and ``raw/ingested_files``).

Materializing it loads every settled log file of the drop not yet ingested; the sensor passes an
explicit file list through run config instead. The work is in ``shutter_assets.lib.log_ingest``.
"""

from datetime import UTC, datetime

import dagster as dg

from shutter_assets.defs.machine_logs.sensor_state import INGEST_OP, SENSOR_NAME, sensor_cursor
from shutter_assets.defs.machine_logs.settings import MachineLogsResource
from shutter_assets.defs.resources import LogDropResource, PlantResource, WarehouseResource
from shutter_assets.lib.log_ingest import IngestReport, ingest_files
from shutter_assets.lib.log_registry import already_ingested
from shutter_assets.lib.log_selection import refused_name_message, select_run_files

EVENTS_KEY = dg.AssetKey(["raw", "machine_events"])
REJECTS_KEY = dg.AssetKey(["raw", "machine_event_rejects"])
FILES_KEY = dg.AssetKey(["raw", "ingested_files"])
PREVIEW_FILES = 20


class MachineLogsConfig(dg.Config):
    """Empty ``paths``: every settled file not yet ingested. Otherwise exactly these drop paths."""

    paths: list[str] = []  # noqa: RUF012 - pydantic copies the default per instance


def _preview(report: IngestReport) -> str:
    lines = [
        "| file | status | rows | rejects | encoding | note |",
        "|---|---|---:|---:|---|---|",
    ]
    for f in report.files[:PREVIEW_FILES]:
        note = f.error or (f"duplicate of file_id {f.duplicate_of}" if f.duplicate_of else "")
        if f.replaced and not note:
            note = "replaced its earlier version's rows"
        note = (note or f.archive_error or "").replace("|", "/").replace("\n", " ")[:160]
        lines.append(
            f"| `{f.path}` | {f.status} | {f.rows} | {f.rejects} | {f.encoding or ''} | {note} |"
        )
    if len(report.files) > PREVIEW_FILES:
        lines.append(f"| … {len(report.files) - PREVIEW_FILES} more files | | | | | |")
    return "\n".join(lines)


@dg.multi_asset(
    name=INGEST_OP,
    group_name="raw",
    can_subset=True,
    specs=[
        dg.AssetSpec(
            EVENTS_KEY,
            description="One row per accepted machine log line, keyed by (file_id, line_no); "
            "wall-clock time and true instant.",
            kinds={"postgres"},
        ),
        dg.AssetSpec(
            REJECTS_KEY,
            description="Log lines that broke the format contract: file, line, raw text, reason.",
            kinds={"postgres"},
        ),
        dg.AssetSpec(
            FILES_KEY,
            description="Registry of ingested log files, one row per content (sha256): "
            "loaded, duplicate or rejected whole.",
            kinds={"postgres"},
        ),
    ],
)
def ingest_machine_logs(
    context: dg.AssetExecutionContext,
    config: MachineLogsConfig,
    warehouse: WarehouseResource,
    log_drop: LogDropResource,
    plant: PlantResource,
    machine_logs: MachineLogsResource,
):
    """Load settled log files from the drop into raw.*, one transaction per file."""
    with log_drop.open() as drop:
        listing = drop.list_files()

        def ingested(files: list) -> set[str]:
            with warehouse.connect() as conn:
                return already_ingested(conn, files)

        by_sensor = context.run.tags.get("dagster/sensor_name") == SENSOR_NAME
        selection = select_run_files(
            listing,
            config.paths,
            now=datetime.now(UTC),
            min_age_s=machine_logs.min_age_s,
            ingested=ingested,
            sensor_cursor=sensor_cursor(context.instance) if by_sensor else None,
            limit=machine_logs.batch_size,
        )
        if (taken := len(selection.files) - len(config.paths)) > 0:
            context.log.info(f"also loading {taken} file(s) that settled while this run waited")
        if selection.missing:
            context.log.warning(
                f"{len(selection.missing)} requested file(s) are no longer in the drop (archived "
                f"or renamed meanwhile): {selection.missing[:10]}"
            )
        for path in selection.refused:
            context.log.error(refused_name_message(path))
        files = selection.files
        context.log.info(f"ingesting {len(files)} file(s) from the drop")
        report = ingest_files(
            warehouse.settings,
            drop,
            files,
            plant_tz=plant.timezone,
            run_id=context.run_id,
            archive=machine_logs.archive,
        )

    for f in report.files:
        if f.archive_error:
            context.log.warning(f.archive_error)
        if f.status == "rejected":
            context.log.error(f"file rejected whole: {f.error}")
    # One load writes the three tables: whichever of them was selected, all three are recorded.
    for key, meta in _metadata_by_table(report).items():
        if key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key, metadata=meta)
        else:
            context.log_event(dg.AssetMaterialization(asset_key=key, metadata=meta))
    if report.failed:
        raise dg.Failure(
            description=f"{len(report.failed)} log file(s) could not be loaded and were left "
            "untouched (the others are committed); the next run retries them:\n"
            + "\n".join(f.error or f.path for f in report.failed[:20]),
        )


def _metadata_by_table(report: IngestReport) -> dict[dg.AssetKey, dict]:
    """What a load reports on each of the three raw tables it writes."""
    metadata = {
        "files_loaded": dg.MetadataValue.int(report.loaded_files),
        "rows": dg.MetadataValue.int(report.rows),
        "rejects": dg.MetadataValue.int(report.rejects),
        "duplicates": dg.MetadataValue.int(report.duplicates),
        "versions_replaced": dg.MetadataValue.int(report.replaced),
        "files_rejected": dg.MetadataValue.int(report.rejected_files),
        "files_skipped": dg.MetadataValue.int(report.skipped),
        "files_failed": dg.MetadataValue.int(len(report.failed)),
        "bytes": dg.MetadataValue.int(report.bytes),
        "preview": dg.MetadataValue.md(_preview(report)),
    }
    return {
        EVENTS_KEY: metadata,
        REJECTS_KEY: {"rejects": dg.MetadataValue.int(report.rejects)},
        FILES_KEY: {"files": dg.MetadataValue.int(len(report.files) - report.skipped)},
    }
