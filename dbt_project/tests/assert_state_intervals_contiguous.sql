-- A state lasts until the machine's next state: intervals of a machine never overlap or gap.
with ordered as (
    select
        machine_id,
        file_id,
        line_no,
        ended_at,
        lead(started_at) over (
            partition by machine_id order by started_at, file_id, line_no
        ) as next_started_at
    from {{ ref('int_machine_state_intervals') }}
    -- the rows the last build rewrote: from each touched machine's anchor interval on
    where {{ latest_batch_filter(ref('int_machine_state_intervals')) }}
)
select machine_id, file_id, line_no, ended_at, next_started_at
from ordered
where next_started_at is not null and next_started_at <> ended_at
