"""Daily throughput per machine type and program (daily_throughput, at the mart's grain)."""

THROUGHPUT = """
with

final as (

    select
        production_date,
        machine_type,
        program,
        produced_qty,
        good_qty,
        scrap_qty,
        cycle_count,
        machine_count,
        count(*) over () as total
    from marts.daily_throughput
    where production_date between %(from)s and %(to)s
        and (%(machine_type)s::text is null or machine_type = %(machine_type)s)
        and (%(program)s::text is null or program = %(program)s)

)

select * from final
order by production_date, machine_type, program
limit %(limit)s offset %(offset)s
"""
