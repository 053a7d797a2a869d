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
        {{ as_seconds('run_s + setup_s + down_s + idle_s') }} as planned_busy_s,
        {{ as_seconds('run_s') }} as run_s,
        {{ as_seconds('setup_s') }} as setup_s,
        {{ as_seconds('down_s') }} as down_s,
        {{ as_seconds('idle_s') }} as idle_s,
        {{ as_count('produced_qty') }} as produced_qty,
        {{ as_count('produced_qty - scrap_qty') }} as good_qty,
        {{ as_count('scrap_qty') }} as scrap_qty,
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
