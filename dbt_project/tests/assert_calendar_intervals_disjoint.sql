-- Shift instances never overlap (the shift_calendar seed must not), and merged planned-downtime
-- windows of one machine never overlap or touch (DESIGN.md s.6): no second is counted twice.
with

shifts as (

    select
        'shift ' || shift_code || ' ' || shift_date as what,
        started_at,
        ended_at,
        lead(started_at) over (order by started_at, ended_at) as next_started_at
    from {{ ref('int_shift_instances') }}

),

windows as (

    select
        'window of ' || machine_id || ' at ' || window_started_at as what,
        window_started_at as started_at,
        window_ended_at as ended_at,
        lead(window_started_at) over (
            partition by machine_id order by window_started_at
        ) as next_started_at
    from {{ ref('int_planned_downtime_windows') }}

),

final as (

    select what from shifts where next_started_at < ended_at or ended_at <= started_at
    union all
    select what from windows where next_started_at <= ended_at or ended_at <= started_at

)

select * from final
