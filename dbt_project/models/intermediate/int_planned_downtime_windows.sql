{#-
    Planned-downtime windows per machine, merged (DESIGN.md s.6): the planned_downtime seed's
    weekly windows expanded over vars calendar_first_date .. calendar_last_date and its dated
    one-offs, each applied to the machines of its scope (plant: every machine of the machines
    seed; machine_type; machine), then merged per machine where they overlap or touch (first
    start, last end), so no second is counted twice and availability cannot go negative.

    A small table rebuilt on every run.
-#}
{{
    config(
        materialized='table',
        indexes=[
            {'columns': ['machine_id', 'window_started_at']},
            {'columns': ['machine_id', 'window_ended_at']},
        ],
    )
}}

with

seeded as (

    select
        window_id,
        scope,
        scope_id,
        kind,
        recurrence,
        weekdays,
        local_start,
        local_end
    from {{ ref('planned_downtime') }}

),

weekly as (

    select
        seeded.window_id,
        seeded.scope,
        seeded.scope_id,
        seeded.kind,
        {{ local_instant('calendar_day', 'seeded.local_start') }} as started_at,
        {{ local_instant(
            'calendar_day::date + (seeded.local_end::time <= seeded.local_start::time)::int',
            'seeded.local_end') }} as ended_at
    from seeded
    cross join {{ calendar_days() }}
    where seeded.recurrence = 'weekly'
      and extract(isodow from calendar_day)::int
        = any(string_to_array(trim(seeded.weekdays), ' ')::int[])

),

once as (

    select
        window_id,
        scope,
        scope_id,
        kind,
        local_start::timestamp at time zone '{{ plant_timezone() }}' as started_at,
        local_end::timestamp at time zone '{{ plant_timezone() }}' as ended_at
    from seeded
    where recurrence = 'once'

),

occurrences as (

    select * from weekly
    union all
    select * from once

),

per_machine as (

    select
        machines.machine_id,
        occurrences.kind,
        occurrences.started_at,
        occurrences.ended_at
    from occurrences
    inner join {{ ref('machines') }} as machines
        on occurrences.scope = 'plant'
        or (occurrences.scope = 'machine_type' and occurrences.scope_id = machines.machine_type)
        or (occurrences.scope = 'machine' and occurrences.scope_id = machines.machine_id)
    where occurrences.ended_at > occurrences.started_at

),

flagged as (

    -- a window opens a new merged window unless an earlier one (by start) reaches its start
    select
        per_machine.*,
        coalesce(
            started_at > max(ended_at) over (
                partition by machine_id
                order by started_at, ended_at
                rows between unbounded preceding and 1 preceding
            ),
            true
        ) as opens_window
    from per_machine

),

islands as (

    select
        flagged.*,
        count(*) filter (where opens_window) over (
            partition by machine_id
            order by started_at, ended_at
            rows unbounded preceding
        ) as window_no
    from flagged

),

final as (

    select
        machine_id,
        min(started_at) as window_started_at,
        max(ended_at) as window_ended_at,
        string_agg(distinct kind, ',' order by kind) as kinds,
        count(*) as merged_window_count,
        {{ seconds_between('min(started_at)', 'max(ended_at)') }} as window_s
    from islands
    group by machine_id, window_no

)

select * from final
