"""OEE (ISO 22400-2) at a grain and grouping, per day (machine_oee_daily) or per shift instance
(machine_oee_shift), and per operator badge (operator_performance).

The ratios are computed from the sums of the period and group (DESIGN.md section 6), never by
averaging the ratios of the mart's rows:
availability = sum(run_s) / sum(planned_busy_s), performance = sum(ideal_run_s) / sum(run_s),
quality = sum(good_qty) / sum(produced_qty), oee = their product.
"""

from shutter_api.sql.periods import MACHINE_FILTER, as_float, summed_by_period

COMPONENTS = (
    "planned_busy_s",
    "run_s",
    "setup_s",
    "down_s",
    "idle_s",
    "ideal_run_s",
    "produced_qty",
    "good_qty",
    "scrap_qty",
)

RATIOS = """run_s / nullif(planned_busy_s, 0) as availability,
        ideal_run_s / nullif(run_s, 0) as performance,
        good_qty / nullif(produced_qty, 0) as quality"""


def _outputs(sums: tuple[str, ...]) -> str:
    return (
        as_float((*sums, "availability", "performance", "quality"))
        + ",\n        (availability * performance * quality)::float8 as oee"
    )


OEE = summed_by_period(
    mart="machine_oee_daily",
    date_column="production_date",
    sums=COMPONENTS,
    count_as="machine_days",
    ratios=RATIOS,
    outputs=_outputs(COMPONENTS) + ",\n        machine_days",
)

_SHIFT_SUMS = (*COMPONENTS, "planned_downtime_s")

# Per shift instance (grain day: shift_date, the local day the shift starts on) or per shift
# code over a week, month or range; NO_SHIFT rows hold the time outside every shift.
SHIFT_OEE = summed_by_period(
    mart="machine_oee_shift",
    date_column="shift_date",
    keys=("shift_code",),
    sums=_SHIFT_SUMS,
    count_as="machine_shifts",
    ratios=RATIOS,
    outputs=_outputs(_SHIFT_SUMS) + ",\n        machine_shifts",
    where="(%(shift_code)s::text is null or mart.shift_code = %(shift_code)s) and" + MACHINE_FILTER,
)

_OPERATOR_SUMS = (*COMPONENTS, "planned_downtime_s", "cycle_count")

# Grouped by badge ('unassigned': time with no badge in its shift instance).
OPERATORS = summed_by_period(
    mart="operator_performance",
    date_column="production_date",
    sums=_OPERATOR_SUMS,
    count_as="operator_days",
    ratios=RATIOS,
    outputs=_outputs(_OPERATOR_SUMS) + ",\n        operator_days",
    group="\n        mart.operator_badge",
    joins="",
    where="(%(operator_badge)s::text is null or mart.operator_badge = %(operator_badge)s)",
)

OPERATOR = (
    "select 1 as known from marts.operator_performance where operator_badge = %(badge)s limit 1"
)
