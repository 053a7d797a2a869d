{{ config(meta={'dagster': {'ref': {'name': 'int_machine_state_daily'}}}) }}
-- Splitting at midnight neither loses nor adds a second (true elapsed time, DST included).
with intervals as (
    select file_id, line_no, duration_s
    from {{ ref('int_machine_state_intervals') }}
    where {{ latest_batch_filter(ref('int_machine_state_intervals')) }}
),

pieces as (
    select file_id, line_no, sum(duration_s) as pieces_s
    from {{ ref('int_machine_state_daily') }}
    where (file_id, line_no) in (select file_id, line_no from intervals)
    group by file_id, line_no
)

select intervals.file_id, intervals.line_no, intervals.duration_s, pieces.pieces_s
from intervals
left join pieces
    on intervals.file_id = pieces.file_id and intervals.line_no = pieces.line_no
where pieces.pieces_s is distinct from intervals.duration_s
