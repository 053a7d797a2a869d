{#-
    Production counts per machine, plant-local day (of the event's true instant), program, order
    and file, as partial sums (macro partial_sums_config): summing over files is exact and a
    rebuild reads only new files.
-#}
{{ partial_sums_config(indexes=[
    {'columns': ['machine_id', 'production_date']},
    {'columns': ['order_ref']},
]) }}

{% set late = late_machine_ids() %}

with

new_events as (

    select
        machine_id,
        file_id,
        event_type,
        event_at,
        order_ref,
        program,
        value_num
    from {{ ref('stg_raw__machine_events') }}
    where (event_type in ('CYCLE_START', 'CYCLE_END', 'SCRAP') or order_ref is not null)
      and {{ unread_or_late(late) }}

),

final as (

    select
        machine_id,
        {{ local_date('event_at') }} as production_date,
        program,
        order_ref,
        coalesce(sum(value_num) filter (where event_type = 'CYCLE_END'), 0) as produced_qty,
        coalesce(sum(value_num) filter (where event_type = 'SCRAP'), 0) as scrap_qty,
        count(*) filter (where event_type = 'CYCLE_END') as cycle_count,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        file_id,
        max(file_id) over () as batch_file_id
    from new_events
    group by 1, 2, 3, 4, file_id

)

select * from final
