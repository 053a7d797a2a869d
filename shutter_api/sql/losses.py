"""The six big losses (marts.oee_losses) summed per period and group, per day or per shift.

Each mart row closes exactly (planned_busy_s - the six losses = ideal_good_s), so every sum
closes too. ``is_speed_loss_negative`` is recomputed from the summed run and ideal times.
"""

from shutter_api.sql.periods import MACHINE_FILTER, as_float, summed_by_period

_SUMS = (
    "planned_busy_s",
    "breakdown_s",
    "setup_s",
    "minor_stop_s",
    "speed_loss_s",
    "startup_reject_s",
    "production_reject_s",
    "ideal_good_s",
    "microstop_s",
    "run_s",
    "ideal_run_s",
    "breakdown_count",
    "microstop_count",
)
_OUTPUTS = (
    as_float(_SUMS[:-2])
    + ",\n        breakdown_count::bigint as breakdown_count"
    + ",\n        microstop_count::bigint as microstop_count"
    + ",\n        run_s < ideal_run_s as is_speed_loss_negative"
)

# By the plant-local day of the seconds (a night shift counts on both of its days).
LOSSES = summed_by_period(
    mart="oee_losses", date_column="production_date", sums=_SUMS, outputs=_OUTPUTS
)

# By shift instance (shift_date: the local day it starts on) or shift code over a period.
SHIFT_LOSSES = summed_by_period(
    mart="oee_losses",
    date_column="shift_date",
    keys=("shift_code",),
    sums=_SUMS,
    outputs=_OUTPUTS,
    where="(%(shift_code)s::text is null or mart.shift_code = %(shift_code)s) and" + MACHINE_FILTER,
)
