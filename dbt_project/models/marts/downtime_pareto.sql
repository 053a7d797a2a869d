{#-
    Down time and failures by machine and alarm code, ranked (Pareto). A DOWN interval is charged
    to the alarm that explains it (int_machine_downtime: the machine's latest alarm raised at most
    60 s after the DOWN began and not ended before it began), else to 'NO_ALARM'.
    Alarms that caused no down time still appear with their count and active seconds.
-#}
with

charged_down as (

    select
        machine_id,
        coalesce(alarm_code, 'NO_ALARM') as alarm_code,
        duration_s,
        is_failure
    from {{ ref('int_machine_downtime') }}

),

alarms as (

    select
        machine_id,
        alarm_code,
        duration_s
    from {{ ref('int_machine_alarms') }}

),

down_by_code as (

    select
        machine_id,
        alarm_code,
        sum(duration_s) as down_s,
        count(*) filter (where is_failure) as failure_count
    from charged_down
    group by machine_id, alarm_code

),

alarms_by_code as (

    select
        machine_id,
        alarm_code,
        count(*) as alarm_count,
        coalesce(sum(duration_s), 0) as alarm_active_s
    from alarms
    group by machine_id, alarm_code

),

combined as (

    select
        coalesce(down_by_code.machine_id, alarms_by_code.machine_id) as machine_id,
        coalesce(down_by_code.alarm_code, alarms_by_code.alarm_code) as alarm_code,
        coalesce(down_by_code.down_s, 0) as down_s,
        coalesce(down_by_code.failure_count, 0) as failure_count,
        coalesce(alarms_by_code.alarm_count, 0) as alarm_count,
        coalesce(alarms_by_code.alarm_active_s, 0) as alarm_active_s
    from down_by_code
    full outer join alarms_by_code
        on down_by_code.machine_id = alarms_by_code.machine_id
        and down_by_code.alarm_code = alarms_by_code.alarm_code

),

final as (

    select
        machine_id,
        alarm_code,
        {{ as_seconds('down_s') }} as down_s,
        {{ as_count('failure_count') }} as failure_count,
        {{ as_count('alarm_count') }} as alarm_count,
        {{ as_seconds('alarm_active_s') }} as alarm_active_s,
        {{ as_ratio(safe_ratio('down_s', 'sum(down_s) over (partition by machine_id)')) }}
            as down_share,
        {{ as_ratio(safe_ratio(
            'sum(down_s) over (partition by machine_id order by down_s desc, alarm_code'
            ~ ' rows between unbounded preceding and current row)',
            'sum(down_s) over (partition by machine_id)')) }} as cumulative_down_share,
        row_number() over (partition by machine_id order by down_s desc, alarm_code)
            as pareto_rank
    from combined

)

select * from final
