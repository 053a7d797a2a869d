-- PBT is exactly the sum of its components (DESIGN.md section 6).
select machine_id, production_date, planned_busy_s, run_s, setup_s, down_s, idle_s
from {{ ref('machine_oee_daily') }}
where planned_busy_s <> run_s + setup_s + down_s + idle_s
