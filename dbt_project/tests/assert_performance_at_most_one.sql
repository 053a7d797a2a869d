{{ config(severity='warn') }}
-- Performance (and so OEE) above 1 means the machine beat its ideal time: the seed's
-- ideal_s_per_part for one of the day's programs is wrong. A warning for the methods team.
select machine_id, production_date, performance, oee
from {{ ref('machine_oee_daily') }}
where performance < 0 or performance > 1 or oee < 0 or oee > 1
