{#-
    One row per STATE event: the machine is in `state` from `started_at` until the machine's next
    STATE event (even one in a later file), or - for its latest state - until the latest event
    seen so far for that machine (`is_open`). The state and the order of events are those of
    macros/machine_state.sql.

    Incremental: only machines with events in new files are touched. For each, the intervals from
    the one containing its earliest new event onwards are recomputed together with the new STATE
    events (so a state open at the end of the previous batch is extended, and a late file that
    inserts a state inside a known interval splits it). `batch_file_id` records the newest file a
    row has seen; downstream incremental models use it as their watermark.
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        indexes=[
            {'columns': ['file_id', 'line_no'], 'unique': true},
            {'columns': ['machine_id', 'started_at']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set late = late_machine_ids() %}

with

new_events as (

    select
        machine_id,
        file_id,
        line_no,
        event_type,
        event_at,
        value_text
    from {{ ref('stg_raw__machine_events') }}
    where {{ unread_or_late(late) }}

),

batch as (

    select max(file_id) as batch_file_id
    from new_events

),

new_machine_bounds as (

    select
        machine_id,
        min(event_at) as first_new_at,
        max(event_at) as last_new_at
    from new_events
    group by machine_id

),

new_state_events as (

    {{ state_events('new_events') }}

),

new_states as (

    select
        machine_id,
        file_id,
        line_no,
        state,
        event_at,
        cast(null as text) as stored_previous_state,
        cast(null as timestamptz) as stored_ended_at
    from new_state_events

),

{% if is_incremental() %}

anchors as (

    -- the start of the known interval containing each machine's earliest new event
    select
        bounds.machine_id,
        (
            select max(known.started_at)
            from {{ this }} as known
            where known.machine_id = bounds.machine_id
              and known.started_at <= bounds.first_new_at
        ) as anchor_at
    from new_machine_bounds as bounds

),

known_states as (

    select
        known.machine_id,
        known.file_id,
        known.line_no,
        known.state,
        known.started_at as event_at,
        known.previous_state as stored_previous_state,
        known.ended_at as stored_ended_at
    from {{ this }} as known
    inner join anchors on known.machine_id = anchors.machine_id
    where known.started_at >= coalesce(anchors.anchor_at, '-infinity'::timestamptz)

),

{% endif %}

state_events as (

    select * from new_states
    {% if is_incremental() %}
    union all
    select * from known_states
    {% endif %}

),

last_seen as (

    -- a machine's latest event so far: the end of its open interval, or a newer event
    select
        bounds.machine_id,
        greatest(bounds.last_new_at, max(state_events.stored_ended_at)) as last_seen_at
    from new_machine_bounds as bounds
    left join state_events on bounds.machine_id = state_events.machine_id
    group by bounds.machine_id, bounds.last_new_at

),

sequenced as (

    select
        machine_id,
        file_id,
        line_no,
        state,
        event_at as started_at,
        coalesce(
            lag(state) over by_time,
            stored_previous_state
        ) as previous_state,
        lead(event_at) over by_time as next_started_at
    from state_events
    window by_time as (partition by machine_id order by {{ event_order() }})

),

final as (

    select
        sequenced.machine_id,
        sequenced.file_id,
        sequenced.line_no,
        sequenced.state,
        sequenced.previous_state,
        sequenced.started_at,
        coalesce(sequenced.next_started_at, last_seen.last_seen_at) as ended_at,
        {{ seconds_between('sequenced.started_at',
            'coalesce(sequenced.next_started_at, last_seen.last_seen_at)') }} as duration_s,
        sequenced.next_started_at is null as is_open,
        batch.batch_file_id
    from sequenced
    inner join last_seen on sequenced.machine_id = last_seen.machine_id
    cross join batch

)

select * from final
