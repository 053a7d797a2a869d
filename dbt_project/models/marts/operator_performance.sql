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
        {{ as_seconds('run_s + setup_s + down_s + idle_s') }} as planned_busy_s,
        {{ as_seconds('run_s') }} as run_s,
        {{ as_seconds('setup_s') }} as setup_s,
        {{ as_seconds('down_s') }} as down_s,
        {{ as_seconds('idle_s') }} as idle_s,
        {{ as_seconds('planned_downtime_s') }} as planned_downtime_s,
        {{ as_count('produced_qty') }} as produced_qty,
        {{ as_count('produced_qty - scrap_qty') }} as good_qty,
        {{ as_count('scrap_qty') }} as scrap_qty,
        {{ as_count('cycle_count') }} as cycle_count,
        {{ as_seconds('ideal_run_s') }} as ideal_run_s,
        {{ as_ratio(safe_ratio('run_s', 'run_s + setup_s + down_s + idle_s')) }} as availability,
        {{ as_ratio(safe_ratio('ideal_run_s', 'run_s')) }} as performance,
        {{ as_ratio(safe_ratio('produced_qty - scrap_qty', 'produced_qty')) }} as quality,
        {{ as_ratio(
            safe_ratio('run_s', 'run_s + setup_s + down_s + idle_s')
            ~ ' * ' ~ safe_ratio('ideal_run_s', 'run_s')
            ~ ' * ' ~ safe_ratio('produced_qty - scrap_qty', 'produced_qty')
        ) }} as oee
    from components

)

select * from final
