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
        min(production_date) as first_production_date,
        max(production_date) as last_production_date
    from {{ ref('int_machine_daily_components') }}
    group by machine_id

),

final as (

    select
        coalesce(reference.machine_id, seen.machine_id) as machine_id,
        reference.machine_type,
        reference.machine_type_label,
        reference.machine_label,
        reference.machine_id is not null as is_in_reference,
        seen.first_production_date,
        seen.last_production_date
    from reference
    full outer join seen on reference.machine_id = seen.machine_id

)

select * from final
