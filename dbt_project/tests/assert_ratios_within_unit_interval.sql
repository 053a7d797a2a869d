-- Availability and quality are shares of their denominators; they can only lie in [0, 1].
select machine_id, production_date, availability, quality
from {{ ref('machine_oee_daily') }}
where availability not between 0 and 1
   or quality not between 0 and 1
   or good_qty <> produced_qty - scrap_qty
