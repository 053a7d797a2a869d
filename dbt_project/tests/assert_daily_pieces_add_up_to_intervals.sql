{{ config(meta={'dagster': {'ref': {'name': 'int_machine_state_daily'}}}) }}
-- Splitting at midnight neither loses nor adds a second (true elapsed time, DST included).
with pieces as (
    select file_id, line_no, sum(duration_s) as pieces_s
    from {{ ref('int_machine_state_daily') }}
    group by file_id, line_no
)
select intervals.file_id, intervals.line_no, intervals.duration_s, pieces.pieces_s
from {{ ref('int_machine_state_intervals') }} as intervals
left join pieces
    on intervals.file_id = pieces.file_id and intervals.line_no = pieces.line_no
where pieces.pieces_s is distinct from intervals.duration_s
