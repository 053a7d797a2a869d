-- The six big losses close exactly on every row of marts.oee_losses (DESIGN.md s.6), and no
-- loss that cannot be negative is.
select *
from {{ ref('oee_losses') }}
where planned_busy_s - breakdown_s - setup_s - minor_stop_s - speed_loss_s
        - startup_reject_s - production_reject_s <> ideal_good_s
   or breakdown_s < 0
   or minor_stop_s < 0
   or microstop_s > minor_stop_s
   or startup_reject_s < 0
   or production_reject_s < 0
