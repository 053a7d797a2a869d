"""The one Dagster entry point: every asset, sensor, schedule, check and resource of the plant.

Feature folders under ``shutter_assets/defs`` are discovered by Dagster's defs-folder loader, so
adding a feature never means editing this file.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
