{#- ISO 22400-2 OEE per machine and plant-local day, from summed components (DESIGN.md s.6). -#}
with

components as (

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
