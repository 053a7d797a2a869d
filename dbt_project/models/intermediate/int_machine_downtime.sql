{#-
    DOWN intervals with the alarm that explains each: the machine's latest alarm raised at most
    60 s after the DOWN began and not ended before it began; NULL when none does. A failure is an
    entry into DOWN (previous state not DOWN). Grain: one row per DOWN interval.

    Incremental: DOWN intervals (re)written by the last int_machine_state_intervals run are
    (re)charged, and so are those that began up to 60 s before an alarm read since (the one
    forward-looking rule of the log models: an alarm in the next file explains a DOWN of this
    one); a late file's machine is recharged whole (macros/late_files.sql), so an alarm loaded
    after the DOWN it explains still explains it.
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        post_hook="{{ analyze_if_new(['machine_id', 'alarm_code']) }}",
        indexes=[
            {'columns': ['file_id', 'line_no'], 'unique': true},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set late = late_machine_ids() %}

with

down_intervals as (

    select
        machine_id,
        file_id,
        line_no,
        started_at,
        ended_at,
        duration_s,
        previous_state is distinct from 'DOWN' as is_failure,
        batch_file_id
    from {{ ref('int_machine_state_intervals') }}
    where state = 'DOWN'
    {% if is_incremental() %}
      and (batch_file_id > {{ incremental_watermark() }} {{ or_late_machine(late) }})
    union
    select
        intervals.machine_id,
        intervals.file_id,
        intervals.line_no,
        intervals.started_at,
        intervals.ended_at,
        intervals.duration_s,
        intervals.previous_state is distinct from 'DOWN' as is_failure,
        intervals.batch_file_id
    from {{ ref('int_machine_alarms') }} as new_alarms
    inner join {{ ref('int_machine_state_intervals') }} as intervals
        on intervals.machine_id = new_alarms.machine_id
        and intervals.started_at between new_alarms.raised_at - interval '60 seconds'
            and new_alarms.raised_at
    where new_alarms.batch_file_id > {{ incremental_watermark() }}
      and intervals.state = 'DOWN'
    {% endif %}

),

final as (

    select
        down_intervals.machine_id,
        down_intervals.file_id,
        down_intervals.line_no,
        down_intervals.started_at,
        down_intervals.ended_at,
        down_intervals.duration_s,
        down_intervals.is_failure,
        cause.alarm_code,
        down_intervals.batch_file_id
    from down_intervals
    left join lateral (
        select alarms.alarm_code
        from {{ ref('int_machine_alarms') }} as alarms
        where alarms.machine_id = down_intervals.machine_id
          and alarms.raised_at <= down_intervals.started_at + interval '60 seconds'
          and (alarms.ended_at is null or alarms.ended_at > down_intervals.started_at)
        order by alarms.raised_at desc
        limit 1
    ) as cause on true

)

select * from final
