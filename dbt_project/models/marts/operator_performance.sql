{#-
    OEE components per operator badge and plant-local day (DESIGN.md s.6): every state second and
    every cycle goes to the machine's latest OPERATOR badge read within the same shift instance
    (intervals are split at badge reads); time and counts with no such badge, or outside every
    shift, are 'unassigned'. Seconds follow the precedence rule of machine_oee_daily; ratios are
    computed from the sums (a badge on two machines is one row per day).
-#}
with

components as (

    select
        coalesce(operator_badge, 'unassigned') as operator_badge,
        production_date,
        count(distinct machine_id) as machine_count,
        sum(run_s) as run_s,
        sum(setup_s) as setup_s,
        sum(down_s) as down_s,
        sum(idle_s) as idle_s,
        sum(planned_setup_s + planned_down_s + planned_idle_s) as planned_downtime_s,
        sum(produced_qty) as produced_qty,
        sum(scrap_qty) as scrap_qty,
        sum(cycle_count) as cycle_count,
        sum(ideal_run_s) as ideal_run_s
    from {{ ref('int_machine_shift_components') }}
    group by 1, 2

),

final as (

    select
        operator_badge,
        production_date,
        machine_count,
{{ oee_columns() }},
        {{ as_seconds('planned_downtime_s') }} as planned_downtime_s,
        {{ as_count('cycle_count') }} as cycle_count
    from components

)

select * from final
