"""Facts about the plant itself that the data needs (no Dagster).

``PlantSettings().timezone`` is the one Python default of ``PLANT_TIMEZONE``: the simulator, the
schedules and the ingestion take it from here. dbt's ``plant_timezone()`` macro,
.env.example and docker-compose.yaml carry their own copy of the same zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from shutter_assets.lib.settings import FromEnv, setting


@dataclass(frozen=True)
class PlantSettings(FromEnv):
    """``timezone``: IANA zone of the machines' wall clocks (``PLANT_TIMEZONE``)."""

    timezone: str = setting("PLANT_TIMEZONE", "Europe/Paris")
