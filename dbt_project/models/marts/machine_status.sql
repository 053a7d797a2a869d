{#-
    Each machine's last known state and whether it has gone silent (issue 15, docs/operations.md).
    A view: `checked_at` is the query's own instant (`monitoring_now()`), so a machine becomes
    silent while nothing new arrives, without waiting for a rebuild. A machine is silent when its
    last known state is not OFF and its newest event is older than `silent_machine_after_s()`;
    OFF machines are never silent. Machines of the reference that never sent a STATE event are
    listed with `status = 'never_seen'`, not silent.

    Silence is judged on what the machines sent, not on how far dbt got: the state intervals of
    the last build are completed with the raw events of the files loaded since (file_id above the
    build's watermark; none while dbt keeps up). A stalled dbt so fails the marts' freshness
    checks, and makes no running machine look silent.
-#}
{{ config(materialized='view') }}

with

built_states as (

    -- the open interval of each machine as of dbt's last build: its last STATE and the newest
    -- event that build saw
    select
        machine_id,
        state,
        started_at,
        file_id,
        line_no,
        ended_at as last_event_at
    from {{ ref('int_machine_state_intervals') }}
    where is_open

),

watermark as (

    select coalesce(max(batch_file_id), 0) as file_id
    from {{ ref('int_machine_state_intervals') }}

),

pending_events as (

    -- events of the files loaded after that build (an index range scan on file_id)
    select
        machine_id,
        file_id,
        line_no,
        event_type,
        event_at,
        value_text
    from {{ ref('stg_raw__machine_events') }}
    where file_id > (select watermark.file_id from watermark)

),

pending_states as (

    {{ state_events('pending_events') }}

),

pending_newest as (

    select
        machine_id,
        max(event_at) as last_event_at
    from pending_events
    group by machine_id

),

state_events as (

    select machine_id, state, started_at, file_id, line_no
    from built_states
    union all
    select machine_id, state, event_at as started_at, file_id, line_no
    from pending_states

),

latest_state as (

    -- the last STATE event of each machine, in event order (macros/machine_state.sql)
    select distinct on (machine_id)
        machine_id,
        state as last_state,
        started_at as last_state_since
    from state_events
    order by machine_id, {{ event_order('started_at', descending=true) }}

),

newest_event as (

    select
        machine_id,
        max(last_event_at) as last_event_at
    from (
        select machine_id, last_event_at from built_states
        union all
        select machine_id, last_event_at from pending_newest
    ) as newest
    group by machine_id

),

machines as (

    select machine_id from {{ ref('machines') }}
    union
    select machine_id from latest_state

),

clock as (

    select {{ monitoring_now() }} as checked_at

),

classified as (

    select
        machines.machine_id,
        latest_state.last_state,
        latest_state.last_state_since,
        newest_event.last_event_at,
        clock.checked_at,
        {{ seconds_between('newest_event.last_event_at', 'clock.checked_at') }} as silent_for_s,
        {{ silent_machine_after_s() }} as silent_after_s,
        case
            when latest_state.machine_id is null then 'never_seen'
            when latest_state.last_state = 'OFF' then 'off'
            when clock.checked_at - newest_event.last_event_at
                > make_interval(secs => {{ silent_machine_after_s() }}) then 'silent'
            else 'reporting'
        end as status
    from machines
    cross join clock
    left join latest_state on machines.machine_id = latest_state.machine_id
    left join newest_event on machines.machine_id = newest_event.machine_id

),

final as (

    select
        machine_id,
        last_state,
        last_state_since,
        last_event_at,
        checked_at,
        {{ as_seconds('silent_for_s') }} as silent_for_s,
        {{ as_seconds('silent_after_s') }} as silent_after_s,
        status = 'silent' as is_silent,
        status
    from classified

)

select * from final
