"""Machines (dim_machine) and their live status (machine_status, a view)."""

_COLUMNS = """
        machine_id,
        machine_type,
        machine_type_label,
        machine_label,
        is_in_reference,
        first_production_date,
        last_production_date"""

MACHINES = f"""
with

final as (

    select
{_COLUMNS},
        count(*) over () as total
    from marts.dim_machine
    where %(machine_type)s::text is null or machine_type = %(machine_type)s

)

select * from final
order by machine_id
limit %(limit)s offset %(offset)s
"""

MACHINE = f"""
select
{_COLUMNS}
from marts.dim_machine
where machine_id = %(machine_id)s
"""

STATUS = """
select
    machine_id,
    last_state,
    last_state_since,
    last_event_at,
    checked_at,
    silent_for_s,
    silent_after_s,
    is_silent,
    status
from marts.machine_status
order by machine_id
"""
