{#-
    Down time and failures by machine and alarm code, ranked (Pareto). A DOWN interval is charged
    to the alarm that explains it: the machine's latest alarm raised at most 60 s after the DOWN
    began and not cleared before it began; a DOWN with no such alarm is charged to 'NO_ALARM'.
    Alarms that caused no down time still appear with their count and active seconds.
-#}
with

down_intervals as (

    select
        machine_id,
        started_at,
        duration_s,
        previous_state is distinct from 'DOWN' as is_failure
    from {{ ref('int_machine_state_intervals') }}
    where state = 'DOWN'

),

alarms as (

    select
        machine_id,
        alarm_code,
        raised_at,
        ended_at,
        duration_s
    from {{ ref('int_machine_alarms') }}

),

charged_down as (

    select
        down_intervals.machine_id,
        coalesce(cause.alarm_code, 'NO_ALARM') as alarm_code,
        down_intervals.duration_s,
        down_intervals.is_failure
    from down_intervals
    left join lateral (
        select alarms.alarm_code
        from alarms
        where alarms.machine_id = down_intervals.machine_id
          and alarms.raised_at <= down_intervals.started_at + interval '60 seconds'
          and (alarms.ended_at is null or alarms.ended_at > down_intervals.started_at)
        order by alarms.raised_at desc
        limit 1
    ) as cause on true

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
        down_s,
        failure_count,
        alarm_count,
        alarm_active_s,
        {{ safe_ratio('down_s', 'sum(down_s) over (partition by machine_id)') }} as down_share,
        {{ safe_ratio(
            'sum(down_s) over (partition by machine_id order by down_s desc, alarm_code'
            ~ ' rows between unbounded preceding and current row)',
            'sum(down_s) over (partition by machine_id)') }} as cumulative_down_share,
        row_number() over (partition by machine_id order by down_s desc, alarm_code)
            as pareto_rank
    from combined

)

select * from final
