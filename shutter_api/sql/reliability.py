"""MTBF / MTTR per period and group, from the summed components of machine_reliability."""

from shutter_api.sql.oee import MACHINE_FILTER, PERIOD_COLUMNS, PERIOD_LABELS

RELIABILITY = f"""
with

days as (

    select
{PERIOD_COLUMNS},
        days.run_s,
        days.down_s,
        days.failure_count
    from marts.machine_reliability as days
    left join marts.dim_machine as machines on days.machine_id = machines.machine_id
    where {MACHINE_FILTER}

),

sums as (

    select
        period_start,
        group_key,
        sum(run_s) as run_s,
        sum(down_s) as down_s,
        sum(failure_count) as failure_count
    from days
    group by period_start, group_key

),

final as (

    select
{PERIOD_LABELS},
        run_s::float8 as run_s,
        down_s::float8 as down_s,
        failure_count,
        (run_s / nullif(failure_count, 0))::float8 as mtbf_s,
        (down_s / nullif(failure_count, 0))::float8 as mttr_s,
        count(*) over () as total
    from sums

)

select * from final
order by period_start, "group"
limit %(limit)s offset %(offset)s
"""
