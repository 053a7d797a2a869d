{#-
    MTBF / MTTR per machine and plant-local day. A failure is one entry into DOWN (a DOWN state
    whose previous state was not DOWN), counted on the day the failure started. run_s and down_s
    are that day's seconds, so summing the components over any period and dividing again gives
    that period's MTBF / MTTR.
-#}
with

time_per_day as (

    select
        machine_id,
        production_date,
        run_s,
        down_s
    from {{ ref('machine_oee_daily') }}

),

failures as (

    select
        machine_id,
        {{ local_date('started_at') }} as production_date,
        count(*) as failure_count
    from {{ ref('int_machine_state_intervals') }}
    where state = 'DOWN'
      and previous_state is distinct from 'DOWN'
    group by 1, 2

),

final as (

    select
        coalesce(time_per_day.machine_id, failures.machine_id) as machine_id,
        coalesce(time_per_day.production_date, failures.production_date) as production_date,
        coalesce(time_per_day.run_s, 0) as run_s,
        coalesce(time_per_day.down_s, 0) as down_s,
        coalesce(failures.failure_count, 0) as failure_count,
        {{ safe_ratio('coalesce(time_per_day.run_s, 0)', 'failures.failure_count') }} as mtbf_s,
        {{ safe_ratio('coalesce(time_per_day.down_s, 0)', 'failures.failure_count') }} as mttr_s
    from time_per_day
    full outer join failures
        on time_per_day.machine_id = failures.machine_id
        and time_per_day.production_date = failures.production_date

)

select * from final
