{#-
    MTBF / MTTR per machine and plant-local day. A failure is one entry into DOWN (a DOWN state
    whose previous state was not DOWN), counted on the day the failure started. run_s and down_s
    are that day's seconds, so summing the components over any period and dividing again gives
    that period's MTBF / MTTR.
-#}
with

components as (

    select
        machine_id,
        production_date,
        run_s,
        down_s,
        failure_count
    from {{ ref('int_machine_daily_components') }}

),

final as (

    select
        machine_id,
        production_date,
        {{ as_seconds('run_s') }} as run_s,
        {{ as_seconds('down_s') }} as down_s,
        {{ as_count('failure_count') }} as failure_count,
        {{ as_seconds(safe_ratio('run_s', 'failure_count')) }} as mtbf_s,
        {{ as_seconds(safe_ratio('down_s', 'failure_count')) }} as mttr_s
    from components

)

select * from final
