{#-
    Output per plant-local day, machine type and program: parts produced, good and scrapped,
    completed cycles. Counts belong to the day of their event's true instant.
-#}
with

counts as (

    select
        counts.production_date,
        coalesce(machines.machine_type, 'UNKNOWN') as machine_type,
        coalesce(counts.program, 'UNKNOWN') as program,
        counts.machine_id,
        counts.produced_qty,
        counts.scrap_qty,
        counts.cycle_count
    from {{ ref('int_production_counts') }} as counts
    left join {{ ref('machines') }} as machines on counts.machine_id = machines.machine_id

),

final as (

    select
        production_date,
        machine_type,
        program,
        {{ as_count('sum(produced_qty)') }} as produced_qty,
        {{ as_count('sum(produced_qty) - sum(scrap_qty)') }} as good_qty,
        {{ as_count('sum(scrap_qty)') }} as scrap_qty,
        {{ as_count('sum(cycle_count)') }} as cycle_count,
        {{ as_count('count(distinct machine_id)') }} as machine_count
    from counts
    group by production_date, machine_type, program
    having sum(produced_qty) <> 0 or sum(scrap_qty) <> 0 or sum(cycle_count) <> 0

)

select * from final
