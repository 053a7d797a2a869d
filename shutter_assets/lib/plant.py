"""Facts about the plant itself that the data needs (no Dagster).

``PlantSettings().timezone`` is the one Python default of ``PLANT_TIMEZONE``: the simulator, the
schedules and the ingestion take it from here. dbt's ``plant_timezone()`` macro,
.env.example and docker-compose.yaml carry their own copy of the same zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shutter_assets.lib.settings import from_env, setting


@dataclass(frozen=True)
class PlantSettings:
    """``timezone``: IANA zone of the machines' wall clocks (``PLANT_TIMEZONE``)."""

    timezone: str = setting("PLANT_TIMEZONE", "Europe/Paris")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PlantSettings:
        return from_env(cls, environ)
