"""Response models of every endpoint, with units in the OpenAPI schema (``x-unit`` + description).

Figures are re-aggregated from the marts' summed components at the asked grain (DESIGN.md
section 6): availability = sum(run_s) / sum(planned_busy_s), never an average of daily ratios.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


def seconds(description: str) -> Any:
    return Field(description=f"{description} Unit: seconds.", json_schema_extra={"x-unit": "s"})


def parts(description: str) -> Any:
    return Field(description=f"{description} Unit: parts.", json_schema_extra={"x-unit": "parts"})


def ratio(description: str) -> Any:
    return Field(
        description=f"{description} Unit: ratio 0-1; null when its denominator is 0.",
        json_schema_extra={"x-unit": "ratio"},
    )


def count(description: str) -> Any:
    return Field(description=description, json_schema_extra={"x-unit": "count"})


class Grain(StrEnum):
    day = "day"
    week = "week"  # ISO 8601 week, Monday to Sunday
    month = "month"
    range = "range"  # the whole asked range as one period


class GroupBy(StrEnum):
    machine = "machine"
    machine_type = "machine_type"
    plant = "plant"


class OrderStatus(StrEnum):
    BROUILLON = "BROUILLON"
    VALIDEE = "VALIDEE"
    EN_PRODUCTION = "EN_PRODUCTION"
    EXPEDIEE = "EXPEDIEE"
    LIVREE = "LIVREE"
    ANNULEE = "ANNULEE"


class Page(BaseModel, Generic[T]):
    data_version: str | None = Field(
        description="Version of the marts this answer was computed from (changes per rebuild)."
    )
    total: int = Field(description="Items matching the filters, over all pages.")
    limit: int = Field(description="Page size asked.")
    offset: int = Field(description="Items skipped before this page.")
    items: list[T]


# --- machines


class Machine(BaseModel):
    machine_id: str = Field(description="Machine code, e.g. CU-01.")
    machine_type: str | None = Field(description="CU, SC or AS; null when not in the reference.")
    machine_type_label: str | None
    machine_label: str | None
    is_in_reference: bool = Field(description="False for a machine seen only in the logs.")
    first_production_date: dt.date | None = Field(description="First plant-local day with data.")
    last_production_date: dt.date | None = Field(description="Latest plant-local day with data.")


# --- OEE and reliability


class PeriodGroup(BaseModel):
    period: str = Field(description="Period label: 2026-11-19, 2026-W47, 2026-11 or the range.")
    period_start: dt.date = Field(description="First day of the period (Monday for a week).")
    period_end: dt.date = Field(description="Last day of the period (inclusive).")
    group: str = Field(description="Machine id, machine type (UNKNOWN if none) or 'plant'.")


class ShiftPeriodGroup(PeriodGroup):
    shift_code: str = Field(
        description="Shift of the calendar (MORNING, AFTERNOON, NIGHT...) or NO_SHIFT: time "
        "outside every shift. With grain=day, one shift instance (period = the local day it "
        "starts on); over a longer period, every instance of that shift code."
    )


class OeeFigures(BaseModel):
    """The ISO 22400-2 components and ratios, summed then divided (never averaged)."""

    planned_busy_s: float = seconds("PBT = run + setup + down + idle (planned downtime excluded).")
    run_s: float = seconds("APT, actual production time (RUNNING).")
    setup_s: float = seconds("ASUT, setup time outside planned downtime.")
    down_s: float = seconds("ADOT, unplanned down time (outside planned downtime).")
    idle_s: float = seconds("Idle time outside planned downtime (still planned busy time).")
    ideal_run_s: float = seconds("Sum of PRU x PQ: the ideal time of the parts produced.")
    produced_qty: float = parts("PQ, parts produced (good and bad).")
    good_qty: float = parts("GQ = PQ - SQ.")
    scrap_qty: float = parts("SQ, scrapped parts.")
    availability: float | None = ratio("sum(run_s) / sum(planned_busy_s).")
    performance: float | None = ratio("sum(ideal_run_s) / sum(run_s); above 1 if a PRU is wrong.")
    quality: float | None = ratio("sum(good_qty) / sum(produced_qty).")
    oee: float | None = ratio("availability x performance x quality.")


class OeeRow(OeeFigures, PeriodGroup):
    machine_days: int = count("Machine-days summed into this row.")


class ShiftOeeRow(OeeFigures, ShiftPeriodGroup):
    planned_downtime_s: float = seconds(
        "SETUP, DOWN and IDLE time inside planned-downtime windows (breaks, maintenance...)."
    )
    machine_shifts: int = count("Machine x shift-instance rows summed (NO_SHIFT: machine-days).")


class OperatorRow(OeeFigures, PeriodGroup):
    """``group`` is the operator badge, or 'unassigned' for time with no badge in its shift."""

    planned_downtime_s: float = seconds("Time inside planned-downtime windows, not in PBT.")
    cycle_count: int = count("Completed cycles attributed to the badge.")
    operator_days: int = count("Badge-days summed into this row.")


class ReliabilityRow(PeriodGroup):
    run_s: float = seconds("APT, actual production time (RUNNING).")
    down_s: float = seconds("Down time.")
    failure_count: int = count("Entries into DOWN (failures) that began in the period.")
    mtbf_s: float | None = seconds("MTBF = sum(run_s) / failures; null without failure.")
    mttr_s: float | None = seconds("MTTR = sum(down_s) / failures; null without failure.")
    microstop_count: int = count(
        "Microstops: DOWN or IDLE stops shorter than the threshold (default 120 s), outside "
        "planned downtime, that began in the period."
    )
    microstop_s: float = seconds("Seconds of those microstops.")


# --- six big losses


class LossRow(PeriodGroup):
    """planned_busy_s - the six losses = ideal_good_s, exactly, on every row."""

    planned_busy_s: float = seconds("PBT, planned busy time.")
    breakdown_s: float = seconds("Loss 1, breakdowns: DOWN stops of at least the threshold.")
    setup_s: float = seconds("Loss 2, setup and adjustment (SETUP outside planned downtime).")
    minor_stop_s: float = seconds("Loss 3, idling and minor stops: IDLE + short DOWN stops.")
    speed_loss_s: float = seconds("Loss 4, reduced speed = run_s - ideal_run_s; may be negative.")
    startup_reject_s: float = seconds("Loss 5: ideal time of parts scrapped after a setup.")
    production_reject_s: float = seconds("Loss 6: ideal time of the other scrapped parts.")
    ideal_good_s: float = seconds("Ideal time of the good parts: PBT minus the six losses.")
    microstop_s: float = seconds("The part of minor_stop_s in stops shorter than the threshold.")
    run_s: float = seconds("APT, actual production time (RUNNING).")
    ideal_run_s: float = seconds("Ideal time of the parts produced (PRU x PQ).")
    breakdown_count: int = count("Breakdowns that began in the row.")
    microstop_count: int = count("Microstops that began in the row.")
    is_speed_loss_negative: bool = Field(
        description="sum(run_s) < sum(ideal_run_s): a program's ideal time is wrong (flagged)."
    )


class ShiftLossRow(LossRow, ShiftPeriodGroup):
    pass


# --- changeovers


class Changeover(BaseModel):
    machine_id: str = Field(description="Machine code, e.g. CU-01.")
    previous_order_ref: str = Field(description="Order k-1 (its last cycle ends the span's start).")
    order_ref: str = Field(description="Order k (its first cycle end ends the span).")
    started_at: dt.datetime = Field(description="Last CYCLE_END of order k-1 (UTC instant).")
    ended_at: dt.datetime = Field(description="First CYCLE_END of order k (UTC instant).")
    changeover_date: dt.date = Field(description="Plant-local day of started_at.")
    elapsed_s: float = seconds("ended_at - started_at.")
    changeover_s: float = seconds("SETUP, DOWN and IDLE time outside planned downtime in the span.")
    setup_s: float = seconds("The SETUP part of changeover_s.")
    planned_downtime_s: float = seconds("Time inside planned-downtime windows (not changeover_s).")
    off_s: float = seconds("OFF time in the span (not in changeover_s).")


class ChangeoverAverageRow(PeriodGroup):
    elapsed_s: float = seconds("Summed elapsed time of the period's changeovers.")
    changeover_s: float = seconds("Summed changeover time (SETUP, DOWN, IDLE, unplanned).")
    setup_s: float = seconds("The SETUP part of changeover_s.")
    planned_downtime_s: float = seconds("Planned downtime inside the changeovers.")
    off_s: float = seconds("OFF time inside the changeovers.")
    avg_changeover_s: float | None = seconds("sum(changeover_s) / changeover_count.")
    changeover_count: int = count("Changeovers that started in the period.")


# --- downtime Pareto


class ParetoRow(BaseModel):
    group: str = Field(description="Machine id, machine type (UNKNOWN if none) or 'plant'.")
    alarm_code: str = Field(description="Alarm code, or NO_ALARM for unexplained down time.")
    pareto_rank: int = count("1 = the code with the most down time in the group.")
    down_s: float = seconds("Down time charged to this code.")
    failure_count: int = count("Entries into DOWN charged to this code.")
    alarm_count: int = count("ALARM events of this code.")
    alarm_active_s: float = seconds("Time the alarms of this code were active (ended ones).")
    down_share: float | None = ratio("down_s / the group's down_s.")
    cumulative_down_share: float | None = ratio("Running share in rank order (Pareto curve).")


# --- throughput


class ThroughputRow(BaseModel):
    production_date: dt.date = Field(description="Plant-local day.")
    machine_type: str = Field(description="CU, SC, AS or UNKNOWN.")
    program: str = Field(description="NC program, UNKNOWN when the log had none.")
    produced_qty: float = parts("Parts produced (good and bad).")
    good_qty: float = parts("Good parts.")
    scrap_qty: float = parts("Scrapped parts.")
    cycle_count: int = count("Completed cycles (CYCLE_END events).")
    machine_count: int = count("Distinct machines that produced it that day.")


# --- orders


class Order(BaseModel):
    numero: str = Field(description="Order number (commandes.numero), e.g. CMD-2026-000123.")
    customer_id: int | None = Field(
        description="Customer id; null for an order unknown to the ERP."
    )
    customer_name: str | None
    statut: OrderStatus | None = Field(description="ERP status; null for an unknown order.")
    date_livraison_prevue: dt.date | None = Field(description="Planned delivery date.")
    is_late: bool = Field(description="Delivery date passed while open, or produced after it.")
    ordered_qty: float | None = parts("Ordered quantity (sum of the order lines).")
    produced_qty: float = parts("Parts produced for this order.")
    good_qty: float = parts("Good parts produced for this order.")
    scrap_qty: float = parts("Scrapped parts of this order.")
    first_event_at: dt.datetime | None = Field(description="First machine event (UTC instant).")
    last_event_at: dt.datetime | None = Field(description="Last machine event (UTC instant).")


# --- freshness and service state


class MachineStatus(BaseModel):
    """One row of marts.machine_status (docs/operations.md, silent machines)."""

    machine_id: str
    last_state: str | None = Field(description="RUNNING, IDLE, SETUP, DOWN or OFF; null: none.")
    last_state_since: dt.datetime | None = Field(description="When the last state began (UTC).")
    last_event_at: dt.datetime | None = Field(description="The machine's newest event (UTC).")
    checked_at: dt.datetime = Field(description="The instant this answer was computed (UTC).")
    silent_for_s: float | None = seconds("Time from last_event_at to checked_at.")
    silent_after_s: float = seconds("Threshold of silence (ALERT_SILENT_MACHINE_S).")
    is_silent: bool = Field(description="Not OFF and no event for longer than silent_after_s.")
    status: str = Field(description="reporting, silent, off or never_seen.")


class MachineFreshness(BaseModel):
    machine_id: str
    newest_event_at: dt.datetime | None = Field(
        description="Newest event of this machine the marts were built from (UTC instant)."
    )
    last_production_date: dt.date | None = Field(description="Latest plant-local day with data.")


class Freshness(BaseModel):
    data_version: str | None = Field(description="Current version of the marts.")
    marts_built_at: dt.datetime | None = Field(description="When the last build was recorded.")
    machines: list[MachineFreshness]


class Health(BaseModel):
    status: str = Field(description="Always 'ok' while the process serves requests.")


class Ready(BaseModel):
    status: str = Field(description="ok, degraded (answering without cache) or unavailable.")
    database: str = Field(description="ok or unavailable.")
    cache: str = Field(description="ok, unavailable or disabled (REDIS_URL empty).")
    data_version: str | None = Field(description="Current version of the marts, if recorded.")


class Problem(BaseModel):
    detail: Any = Field(description="What was wrong, in words (or the list of invalid fields).")
