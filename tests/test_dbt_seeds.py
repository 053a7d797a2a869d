"""The dbt seeds of machine reference data agree with the simulator's plant (plant.py)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from shutter_assets.simulator import calendar, plant

SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


def read(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_machines_seed_matches_plant_machines():
    seed = {(r["machine_id"], r["machine_type"], r["machine_label"]) for r in read("machines.csv")}
    assert seed == {(m.machine_id, m.machine_type, m.label) for m in plant.MACHINES}


def test_machine_types_seed_matches_plant_machine_types():
    seed = {(r["machine_type"], r["machine_type_label"]) for r in read("machine_types.csv")}
    assert seed == {(t.code, t.label) for t in plant.MACHINE_TYPES}


def test_programs_seed_matches_plant_ideal_times():
    seed = {
        (r["program"], r["machine_type"], Decimal(r["ideal_s_per_part"]), int(r["parts_per_cycle"]))
        for r in read("programs.csv")
    }
    expected = {
        (p.program, p.machine_type, Decimal(str(p.ideal_s_per_part)), p.parts_per_cycle)
        for p in plant.PROGRAMS
    }
    assert seed == expected


def test_shift_calendar_seed_matches_the_simulator_calendar():
    seed = [
        (r["shift_code"], r["weekdays"], r["local_start"], r["local_end"], r["shift_label"])
        for r in read("shift_calendar.csv")
    ]
    assert seed == [
        (
            s.shift_code,
            " ".join(map(str, s.weekdays)),
            f"{s.local_start:%H:%M}",
            f"{s.local_end:%H:%M}",
            s.label,
        )
        for s in calendar.SHIFT_CALENDAR
    ]


def test_planned_downtime_seed_matches_the_simulator_calendar():
    seed = [tuple(r.values()) for r in read("planned_downtime.csv")]
    assert seed == [
        (
            w.window_id,
            w.scope,
            w.scope_id,
            w.kind,
            w.recurrence,
            " ".join(map(str, w.weekdays)),
            w.local_start,
            w.local_end,
            w.description,
        )
        for w in calendar.PLANNED_DOWNTIME
    ]
