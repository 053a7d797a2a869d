"""When the marts were last built and the newest event per machine they were built from.

marts.data_version and marts.machine_freshness are written by the Dagster asset
api/marts_data_version (shutter_assets/lib/marts_version.py).
"""

MACHINES = """
select
    machines.machine_id,
    freshness.newest_event_at,
    machines.last_production_date
from marts.dim_machine as machines
left join marts.machine_freshness as freshness on machines.machine_id = freshness.machine_id
order by machines.machine_id
"""
