{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_production_counts'}}}) }}
-- A program missing from the programs seed adds nothing to ideal_run_s: add it to the seed
-- (and to shutter_assets/simulator/plant.py) so performance counts it.
select distinct counts.program
from {{ ref('int_production_counts') }} as counts
left join {{ ref('programs') }} as programs on counts.program = programs.program
where counts.produced_qty > 0
  and programs.program is null
