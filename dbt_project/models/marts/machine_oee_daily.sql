{#-
    ISO 22400-2 OEE per machine and plant-local day, from summed components (DESIGN.md s.6).
    Precedence: SETUP, DOWN and IDLE seconds inside a planned-downtime window are moved out of
    setup_s / down_s / idle_s (and so out of PBT) into planned_downtime_s; with no window every
    other value is as without a calendar. TEEP divides the ideal time of good parts by the true
    length of the local day (calendar_s: 23, 24 or 25 h).
-#}
with

day_components as (

    select
        machine_id,
        production_date,
        run_s,
        setup_s,
        down_s,
        idle_s,
        produced_qty,
        scrap_qty,
        ideal_run_s
    from {{ ref('int_machine_daily_components') }}

),

day_calendar as (

    select
        machine_id,
        production_date,
        sum(planned_setup_s) as planned_setup_s,
        sum(planned_down_s) as planned_down_s,
        sum(planned_idle_s) as planned_idle_s,
        sum(scrap_ideal_s) as scrap_ideal_s
    from {{ ref('int_machine_shift_components') }}
    group by machine_id, production_date

),

components as (

    select
        day_components.machine_id,
        day_components.production_date,
        day_components.run_s,
        day_components.setup_s - coalesce(day_calendar.planned_setup_s, 0) as setup_s,
        day_components.down_s - coalesce(day_calendar.planned_down_s, 0) as down_s,
        day_components.idle_s - coalesce(day_calendar.planned_idle_s, 0) as idle_s,
        day_components.produced_qty,
        day_components.scrap_qty,
        day_components.ideal_run_s,
        coalesce(day_calendar.planned_setup_s, 0)
            + coalesce(day_calendar.planned_down_s, 0)
            + coalesce(day_calendar.planned_idle_s, 0) as planned_downtime_s,
        {{ seconds_between(local_midnight('day_components.production_date'),
            local_midnight('day_components.production_date + 1')) }} as calendar_s,
        day_components.ideal_run_s - coalesce(day_calendar.scrap_ideal_s, 0) as ideal_good_s
    from day_components
    left join day_calendar
        on day_components.machine_id = day_calendar.machine_id
        and day_components.production_date = day_calendar.production_date

),

final as (

    select
        machine_id,
        production_date,
{{ oee_columns() }},
        {{ as_seconds('planned_downtime_s') }} as planned_downtime_s,
        {{ as_seconds('calendar_s') }} as calendar_s,
        {{ as_ratio(safe_ratio('ideal_good_s', 'calendar_s')) }} as teep
    from components

)

select * from final
