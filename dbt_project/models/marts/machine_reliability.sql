{#-
    MTBF / MTTR per machine and plant-local day. A failure is one entry into DOWN (a DOWN state
    whose previous state was not DOWN), counted on the day the failure started. run_s and down_s
    are that day's seconds, so summing the components over any period and dividing again gives
    that period's MTBF / MTTR. Microstops (DESIGN.md s.6): DOWN or IDLE stops shorter than var
    microstop_threshold_s outside planned downtime, counted on the day they start, with their
    seconds on each day they cover (per shift: marts.oee_losses).
-#}
with

microstops as (

    select
        machine_id,
        production_date,
        sum(microstop_count) as microstop_count,
        sum(microstop_s) as microstop_s
    from {{ ref('int_machine_shift_components') }}
    group by machine_id, production_date

),

components as (

    select
        day_components.machine_id,
        day_components.production_date,
        day_components.run_s,
        day_components.down_s,
        day_components.failure_count,
        coalesce(microstops.microstop_count, 0) as microstop_count,
        coalesce(microstops.microstop_s, 0) as microstop_s
    from {{ ref('int_machine_daily_components') }} as day_components
    left join microstops
        on day_components.machine_id = microstops.machine_id
        and day_components.production_date = microstops.production_date

),

final as (

    select
        machine_id,
        production_date,
        {{ as_seconds('run_s') }} as run_s,
        {{ as_seconds('down_s') }} as down_s,
        {{ as_count('failure_count') }} as failure_count,
        {{ as_seconds(safe_ratio('run_s', 'failure_count')) }} as mtbf_s,
        {{ as_seconds(safe_ratio('down_s', 'failure_count')) }} as mttr_s,
        {{ as_count('microstop_count') }} as microstop_count,
        {{ as_seconds('microstop_s') }} as microstop_s
    from components

)

select * from final
