{#-
    Each machine's last known state and whether it has gone silent (issue 15, docs/operations.md).
    A view: `checked_at` is the query's own instant (`monitoring_now()`), so a machine becomes
    silent while nothing new arrives, without waiting for a rebuild. A machine is silent when its
    last known state is not OFF and its newest event is older than `silent_machine_after_s()`;
    OFF machines are never silent. Machines of the reference that never sent an event are listed
    with `status = 'never_seen'`, not silent.
-#}
{{ config(materialized='view') }}

with

latest_state as (

    -- the open interval of each machine: its last STATE, ended by its newest event so far
    select
        machine_id,
        state as last_state,
        started_at as last_state_since,
        ended_at as last_event_at
    from {{ ref('int_machine_state_intervals') }}
    where is_open

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
        latest_state.last_event_at,
        clock.checked_at,
        {{ seconds_between('latest_state.last_event_at', 'clock.checked_at') }} as silent_for_s,
        {{ silent_machine_after_s() }} as silent_after_s,
        case
            when latest_state.machine_id is null then 'never_seen'
            when latest_state.last_state = 'OFF' then 'off'
            when clock.checked_at - latest_state.last_event_at
                > make_interval(secs => {{ silent_machine_after_s() }}) then 'silent'
            else 'reporting'
        end as status
    from machines
    cross join clock
    left join latest_state on machines.machine_id = latest_state.machine_id

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
