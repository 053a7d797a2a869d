{#- ISO 22400-2 OEE per machine and plant-local day, from summed components (DESIGN.md s.6). -#}
with

state_time as (

    select
        machine_id,
        production_date,
        sum(duration_s) filter (where state = 'RUNNING') as run_s,
        sum(duration_s) filter (where state = 'SETUP') as setup_s,
        sum(duration_s) filter (where state = 'DOWN') as down_s,
        sum(duration_s) filter (where state = 'IDLE') as idle_s
    from {{ ref('int_machine_state_daily') }}
    where duration_s > 0
    group by machine_id, production_date

),

counts as (

    select
        counts.machine_id,
        counts.production_date,
        sum(counts.produced_qty) as produced_qty,
        sum(counts.scrap_qty) as scrap_qty,
        sum(counts.produced_qty * programs.ideal_s_per_part) as ideal_run_s
    from {{ ref('int_production_counts') }} as counts
    left join {{ ref('programs') }} as programs on counts.program = programs.program
    group by counts.machine_id, counts.production_date

),

components as (

    select
        coalesce(state_time.machine_id, counts.machine_id) as machine_id,
        coalesce(state_time.production_date, counts.production_date) as production_date,
        coalesce(state_time.run_s, 0) as run_s,
        coalesce(state_time.setup_s, 0) as setup_s,
        coalesce(state_time.down_s, 0) as down_s,
        coalesce(state_time.idle_s, 0) as idle_s,
        coalesce(counts.produced_qty, 0) as produced_qty,
        coalesce(counts.scrap_qty, 0) as scrap_qty,
        coalesce(counts.ideal_run_s, 0) as ideal_run_s
    from state_time
    full outer join counts
        on state_time.machine_id = counts.machine_id
        and state_time.production_date = counts.production_date

),

final as (

    select
        machine_id,
        production_date,
        run_s + setup_s + down_s + idle_s as planned_busy_s,
        run_s,
        setup_s,
        down_s,
        idle_s,
        produced_qty,
        produced_qty - scrap_qty as good_qty,
        scrap_qty,
        ideal_run_s,
        {{ safe_ratio('run_s', 'run_s + setup_s + down_s + idle_s') }} as availability,
        {{ safe_ratio('ideal_run_s', 'run_s') }} as performance,
        {{ safe_ratio('produced_qty - scrap_qty', 'produced_qty') }} as quality,
        {{ safe_ratio('run_s', 'run_s + setup_s + down_s + idle_s') }}
            * {{ safe_ratio('ideal_run_s', 'run_s') }}
            * {{ safe_ratio('produced_qty - scrap_qty', 'produced_qty') }} as oee
    from components

)

select * from final
