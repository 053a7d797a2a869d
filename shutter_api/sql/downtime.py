"""Downtime Pareto by alarm code, re-ranked within the asked group from downtime_pareto's sums.

The mart covers all time (it has no date), so this endpoint does too.
"""

PARETO = """
with

codes as (

    select
        case %(group_by)s
            when 'machine' then pareto.machine_id
            when 'machine_type' then coalesce(machines.machine_type, 'UNKNOWN')
            else 'plant'
        end as group_key,
        pareto.alarm_code,
        pareto.down_s,
        pareto.failure_count,
        pareto.alarm_count,
        pareto.alarm_active_s
    from marts.downtime_pareto as pareto
    left join marts.dim_machine as machines on pareto.machine_id = machines.machine_id
    where (%(machine_id)s::text is null or pareto.machine_id = %(machine_id)s)
        and (%(machine_type)s::text is null
            or coalesce(machines.machine_type, 'UNKNOWN') = %(machine_type)s)

),

sums as (

    select
        group_key,
        alarm_code,
        sum(down_s) as down_s,
        sum(failure_count) as failure_count,
        sum(alarm_count) as alarm_count,
        sum(alarm_active_s) as alarm_active_s
    from codes
    group by group_key, alarm_code

),

final as (

    select
        group_key as "group",
        alarm_code,
        row_number() over by_rank as pareto_rank,
        down_s,
        failure_count,
        alarm_count,
        alarm_active_s,
        down_s / nullif(sum(down_s) over by_group, 0) as down_share,
        sum(down_s) over (by_rank rows between unbounded preceding and current row)
            / nullif(sum(down_s) over by_group, 0) as cumulative_down_share,
        count(*) over () as total
    from sums
    window
        by_group as (partition by group_key),
        by_rank as (partition by group_key order by down_s desc, alarm_code)

)

select * from final
order by "group", pareto_rank
limit %(limit)s offset %(offset)s
"""
