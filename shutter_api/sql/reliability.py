"""MTBF / MTTR and microstops per period and group, from the summed components of
machine_reliability: mtbf_s = sum(run_s) / sum(failure_count), mttr_s = sum(down_s) /
sum(failure_count)."""

from shutter_api.sql.periods import as_float, summed_by_period

_SUMS = ("run_s", "down_s", "failure_count", "microstop_count", "microstop_s")

RELIABILITY = summed_by_period(
    mart="machine_reliability",
    date_column="production_date",
    sums=_SUMS,
    ratios="""run_s / nullif(failure_count, 0) as mtbf_s,
        down_s / nullif(failure_count, 0) as mttr_s""",
    outputs=as_float(("run_s", "down_s", "mtbf_s", "mttr_s", "microstop_s"))
    + ",\n        failure_count::bigint as failure_count,"
    + "\n        microstop_count::bigint as microstop_count",
)
