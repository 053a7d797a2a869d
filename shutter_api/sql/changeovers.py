"""Changeovers between consecutive orders on a machine (marts.changeovers): the list, and the
average per period and group = sum(changeover_s) / count, never an average of averages."""

from shutter_api.sql.periods import MACHINE_FILTER, as_float, summed_by_period

CHANGEOVERS = f"""
with

final as (

    select
        mart.machine_id,
        mart.previous_order_ref,
        mart.order_ref,
        mart.started_at,
        mart.ended_at,
        mart.changeover_date,
        mart.elapsed_s::float8 as elapsed_s,
        mart.changeover_s::float8 as changeover_s,
        mart.setup_s::float8 as setup_s,
        mart.planned_downtime_s::float8 as planned_downtime_s,
        mart.off_s::float8 as off_s,
        count(*) over () as total
    from marts.changeovers as mart
    left join marts.dim_machine as machines on mart.machine_id = machines.machine_id
    where mart.changeover_date between %(from)s and %(to)s
        and {MACHINE_FILTER}

)

select * from final
order by started_at, machine_id
limit %(limit)s offset %(offset)s
"""

_SUMS = ("elapsed_s", "changeover_s", "setup_s", "planned_downtime_s", "off_s")

# Periods by changeover_date (the plant-local day the changeover starts on).
CHANGEOVER_AVERAGES = summed_by_period(
    mart="changeovers",
    date_column="changeover_date",
    sums=_SUMS,
    count_as="changeover_count",
    ratios="changeover_s / nullif(changeover_count, 0) as avg_changeover_s",
    outputs=as_float((*_SUMS, "avg_changeover_s")) + ",\n        changeover_count",
)
