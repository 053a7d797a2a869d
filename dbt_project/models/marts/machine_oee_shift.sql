{#-
    ISO 22400-2 OEE per machine and shift instance (DESIGN.md s.6): the components and ratios of
    machine_oee_daily at shift grain. A night shift is one row dated by the local day it starts
    (shift_date), however many local days it spans. Time and counts outside every shift instance
    form "no shift" rows (shift_code 'NO_SHIFT', one per machine and local day, shift_date = that
    day), so that per machine the rows add up exactly to machine_oee_daily (dbt test
    assert_shift_rows_add_up_to_daily).
-#}
with

components as (

    select
        components.machine_id,
        coalesce(components.shift_date, components.production_date) as shift_date,
        coalesce(components.shift_code, 'NO_SHIFT') as shift_code,
        sum(components.run_s) as run_s,
        sum(components.setup_s) as setup_s,
        sum(components.down_s) as down_s,
        sum(components.idle_s) as idle_s,
        sum(components.planned_setup_s + components.planned_down_s + components.planned_idle_s)
            as planned_downtime_s,
        sum(components.produced_qty) as produced_qty,
        sum(components.scrap_qty) as scrap_qty,
        sum(components.ideal_run_s) as ideal_run_s
    from {{ ref('int_machine_shift_components') }} as components
    group by 1, 2, 3

),

final as (

    select
        components.machine_id,
        components.shift_date,
        components.shift_code,
        shifts.started_at as shift_started_at,
        shifts.ended_at as shift_ended_at,
{{ oee_columns('components') }},
        {{ as_seconds('components.planned_downtime_s') }} as planned_downtime_s
    from components
    left join {{ ref('int_shift_instances') }} as shifts
        on components.shift_code = shifts.shift_code
        and components.shift_date = shifts.shift_date

)

select * from final
