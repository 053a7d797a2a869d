{#-
    Every machine: the reference seed plus any machine seen in the logs but missing from the seed
    (machine_type NULL, is_in_reference false), so facts never lose their dimension row.
-#}
with

reference as (

    select
        machines.machine_id,
        machines.machine_type,
        machine_types.machine_type_label,
        machines.machine_label
    from {{ ref('machines') }} as machines
    left join {{ ref('machine_types') }} as machine_types
        on machines.machine_type = machine_types.machine_type

),

seen as (

    select
        machine_id,
        min(started_at) as first_state_at,
        max(ended_at) as last_seen_at
    from {{ ref('int_machine_state_intervals') }}
    group by machine_id

    union all

    select
        machine_id,
        null::timestamptz as first_state_at,
        max(last_event_at) as last_seen_at
    from {{ ref('int_production_counts') }}
    group by machine_id

),

seen_per_machine as (

    select
        machine_id,
        min(first_state_at) as first_state_at,
        max(last_seen_at) as last_seen_at
    from seen
    group by machine_id

),

final as (

    select
        coalesce(reference.machine_id, seen_per_machine.machine_id) as machine_id,
        reference.machine_type,
        reference.machine_type_label,
        reference.machine_label,
        reference.machine_id is not null as is_in_reference,
        seen_per_machine.first_state_at,
        seen_per_machine.last_seen_at
    from reference
    full outer join seen_per_machine on reference.machine_id = seen_per_machine.machine_id

)

select * from final
