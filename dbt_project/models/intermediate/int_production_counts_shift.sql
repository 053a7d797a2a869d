{#-
    Production counts per machine, plant-local day, shift instance, operator badge and program
    (DESIGN.md s.6), as partial sums per file like int_production_counts (macro
    partial_sums_config). Each CYCLE_END and SCRAP event goes to
    the shift instance containing its true instant (NULL: no shift), to the machine's latest
    badge read within that shift instance (NULL: unassigned) and, for SCRAP, counts as a startup
    reject when a SETUP -> RUNNING transition of the machine started at most
    var startup_window_s seconds before it.

    A transition or badge read loaded in a later file than the scrap or cycle it explains comes
    in a late file: its machine is recomputed whole (macros/late_files.sql).
-#}
{{ partial_sums_config(indexes=[{'columns': ['machine_id', 'production_date']}]) }}

{% set late = late_machine_ids() %}

with

new_events as (

    select
        machine_id,
        file_id,
        event_type,
        event_at,
        program,
        value_num
    from {{ ref('stg_raw__machine_events') }}
    where event_type in ('CYCLE_END', 'SCRAP')
      and {{ unread_or_late(late) }}

),

located as (

    select
        new_events.*,
        shifts.shift_code,
        shifts.shift_date,
        shifts.started_at as shift_started_at
    from new_events
    {{ shift_instance_at('new_events.event_at') }}

),

attributed as (

    select
        located.*,
        badge.operator_badge,
        located.event_type = 'SCRAP' and exists (
            select
            from {{ ref('int_machine_state_intervals') }} as transitions
            where transitions.machine_id = located.machine_id
              and transitions.state = 'RUNNING'
              and transitions.previous_state = 'SETUP'
              and transitions.started_at <= located.event_at
              and transitions.started_at
                > located.event_at - interval '{{ var("startup_window_s") }} seconds'
        ) as is_startup_scrap
    from located
    {{ badge_at('located.machine_id', 'located.event_at', 'located.shift_started_at') }}

),

final as (

    select
        machine_id,
        {{ local_date('event_at') }} as production_date,
        shift_code,
        shift_date,
        operator_badge,
        program,
        file_id,
        coalesce(sum(value_num) filter (where event_type = 'CYCLE_END'), 0) as produced_qty,
        coalesce(sum(value_num) filter (where event_type = 'SCRAP'), 0) as scrap_qty,
        coalesce(sum(value_num) filter (where is_startup_scrap), 0) as startup_scrap_qty,
        count(*) filter (where event_type = 'CYCLE_END') as cycle_count,
        max(max(file_id)) over () as batch_file_id
    from attributed
    group by 1, 2, 3, 4, 5, 6, 7

)

select * from final
