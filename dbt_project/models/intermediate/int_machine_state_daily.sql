{#-
    State intervals split at plant-local midnight: one row per interval and production day, with
    the true elapsed seconds of the part of the interval inside that day (the autumn DST day has
    25 hours, the spring one 23). An interval ending exactly at midnight leaves a 0-second piece
    on the next day, so every interval keeps at least one row (needed by delete+insert below).

    Incremental: intervals (re)written by the last run of int_machine_state_intervals (a newer
    batch_file_id) replace all their pieces.
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        post_hook="{{ analyze_if_new(['file_id', 'line_no']) }}",
        indexes=[
            {'columns': ['file_id', 'line_no']},
            {'columns': ['machine_id', 'production_date']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set late = late_machine_ids() %}

with

intervals as (

    select
        machine_id,
        file_id,
        line_no,
        state,
        state = 'DOWN' and previous_state is distinct from 'DOWN' as is_failure,
        started_at,
        ended_at,
        batch_file_id
    from {{ ref('int_machine_state_intervals') }}
    {% if is_incremental() %}
    where (batch_file_id > {{ incremental_watermark() }} {{ or_late_machine(late) }})
    {% endif %}

),

days as (

    select
        intervals.*,
        day_start.production_date,
        {{ local_midnight('day_start.production_date') }} as day_started_at,
        {{ local_midnight("day_start.production_date + 1") }} as day_ended_at
    from intervals
    cross join lateral (
        select calendar_day::date as production_date
        from generate_series(
            {{ local_date('intervals.started_at') }},
            {{ local_date('intervals.ended_at') }},
            interval '1 day'
        ) as calendar_day
    ) as day_start

),

final as (

    select
        machine_id,
        file_id,
        line_no,
        state,
        production_date,
        is_failure and started_at >= day_started_at as is_failure_start,
        greatest(started_at, day_started_at) as segment_started_at,
        least(ended_at, day_ended_at) as segment_ended_at,
        {{ seconds_between('greatest(started_at, day_started_at)',
            'least(ended_at, day_ended_at)') }} as duration_s,
        batch_file_id
    from days

)

select * from final
