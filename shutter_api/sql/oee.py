"""OEE (ISO 22400-2) at a grain and grouping, from the summed components of machine_oee_daily.

The ratios are computed from the sums of the period and group (DESIGN.md section 6), never by
averaging the daily ratios of the mart. Sums and ratios are computed in numeric and only the
results are cast to double precision (what JSON carries anyway; decoding numeric into Python
Decimals cost more than the query).
"""

# Shared by oee and reliability: the period of a production_date and the group of a machine.
PERIOD_COLUMNS = """
        case %(grain)s
            when 'day' then days.production_date
            when 'week' then date_trunc('week', days.production_date::timestamp)::date
            when 'month' then date_trunc('month', days.production_date::timestamp)::date
            else %(from)s::date
        end as period_start,
        case %(group_by)s
            when 'machine' then days.machine_id
            when 'machine_type' then coalesce(machines.machine_type, 'UNKNOWN')
            else 'plant'
        end as group_key"""

PERIOD_LABELS = """
        case %(grain)s
            when 'day' then to_char(period_start, 'YYYY-MM-DD')
            when 'week' then to_char(period_start, 'IYYY-"W"IW')
            when 'month' then to_char(period_start, 'YYYY-MM')
            else to_char(%(from)s::date, 'YYYY-MM-DD') || '/' || to_char(%(to)s::date, 'YYYY-MM-DD')
        end as period,
        period_start,
        case %(grain)s
            when 'day' then period_start
            when 'week' then period_start + 6
            when 'month' then (period_start + interval '1 month' - interval '1 day')::date
            else %(to)s::date
        end as period_end,
        group_key as "group\""""

MACHINE_FILTER = """
        days.production_date between %(from)s and %(to)s
        and (%(machine_id)s::text is null or days.machine_id = %(machine_id)s)
        and (%(machine_type)s::text is null
            or coalesce(machines.machine_type, 'UNKNOWN') = %(machine_type)s)"""

OEE = f"""
with

days as (

    select
{PERIOD_COLUMNS},
        days.planned_busy_s,
        days.run_s,
        days.setup_s,
        days.down_s,
        days.idle_s,
        days.ideal_run_s,
        days.produced_qty,
        days.good_qty,
        days.scrap_qty
    from marts.machine_oee_daily as days
    left join marts.dim_machine as machines on days.machine_id = machines.machine_id
    where {MACHINE_FILTER}

),

sums as (

    select
        period_start,
        group_key,
        count(*) as machine_days,
        sum(planned_busy_s) as planned_busy_s,
        sum(run_s) as run_s,
        sum(setup_s) as setup_s,
        sum(down_s) as down_s,
        sum(idle_s) as idle_s,
        sum(ideal_run_s) as ideal_run_s,
        sum(produced_qty) as produced_qty,
        sum(good_qty) as good_qty,
        sum(scrap_qty) as scrap_qty
    from days
    group by period_start, group_key

),

ratios as (

    select
        *,
        run_s / nullif(planned_busy_s, 0) as availability,
        ideal_run_s / nullif(run_s, 0) as performance,
        good_qty / nullif(produced_qty, 0) as quality
    from sums

),

final as (

    select
{PERIOD_LABELS},
        machine_days,
        planned_busy_s::float8 as planned_busy_s,
        run_s::float8 as run_s,
        setup_s::float8 as setup_s,
        down_s::float8 as down_s,
        idle_s::float8 as idle_s,
        ideal_run_s::float8 as ideal_run_s,
        produced_qty::float8 as produced_qty,
        good_qty::float8 as good_qty,
        scrap_qty::float8 as scrap_qty,
        availability::float8 as availability,
        performance::float8 as performance,
        quality::float8 as quality,
        (availability * performance * quality)::float8 as oee,
        count(*) over () as total
    from ratios

)

select * from final
order by period_start, "group"
limit %(limit)s offset %(offset)s
"""
