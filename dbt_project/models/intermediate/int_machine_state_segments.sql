{#-
    State intervals cut at every edge the shift-level marts need (DESIGN.md s.6): plant-local
    midnight, shift-instance edges, merged planned-downtime windows of the machine and operator
    badge reads. Grain: one row per interval (file_id, line_no) and segment_started_at; an interval
    of 0 seconds keeps one 0-second row.

    Each segment carries what the marts classify by:
    - production_date, the shift instance containing it (NULL: no shift) and the operator badge
      (the machine's latest badge read within the same shift instance; NULL: unassigned);
    - is_planned_downtime: SETUP, DOWN or IDLE inside a planned window (precedence rule; RUNNING
      inside a window stays production time);
    - the stop it belongs to: a run of consecutive intervals in the same state (DOWN -> DOWN is one
      stop, as it is one failure) with its whole duration run_s, however it is cut here, so a
      stop's class (breakdown or minor stop, var microstop_threshold_s) never depends on where it
      is split.

    Incremental: for each machine with rewritten intervals (a newer batch_file_id of
    int_machine_state_intervals), every interval from the start of the stop containing its first
    rewritten interval is re-cut, so a stop that grows in a later file is re-classified whole.
    Edits of the shift_calendar or planned_downtime seeds need
    `dbt build --full-refresh -s int_machine_state_segments+`.
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        post_hook="{{ analyze_if_new(['file_id', 'line_no']) }}",
        indexes=[
            {'columns': ['file_id', 'line_no']},
            {'columns': ['machine_id', 'production_date']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set watermark = incremental_watermark() %}

{% set late = late_machine_ids() %}

with

changed as (

    select
        machine_id,
        min(started_at) as first_changed_at
    from {{ ref('int_machine_state_intervals') }}
    {% if is_incremental() %}
    where (batch_file_id > {{ watermark }} {{ or_late_machine(late) }})
    {% endif %}
    group by machine_id

),

stop_anchors as (

    -- the start of the stop (same-state run) containing each machine's first rewritten interval
    select
        changed.machine_id,
        (
            select max(known.started_at)
            from {{ ref('int_machine_state_intervals') }} as known
            where known.machine_id = changed.machine_id
              and known.started_at <= changed.first_changed_at
              and known.previous_state is distinct from known.state
        ) as anchor_at
    from changed

),

batch as (

    select max(batch_file_id) as batch_file_id
    from {{ ref('int_machine_state_intervals') }}
    {% if is_incremental() %}
    where (batch_file_id > {{ watermark }} {{ or_late_machine(late) }})
    {% endif %}

),

intervals as (

    select
        known.machine_id,
        known.file_id,
        known.line_no,
        known.state,
        known.previous_state,
        known.started_at,
        known.ended_at
    from {{ ref('int_machine_state_intervals') }} as known
    inner join stop_anchors on known.machine_id = stop_anchors.machine_id
    where known.started_at >= coalesce(stop_anchors.anchor_at, '-infinity'::timestamptz)

),

stops as (

    select
        intervals.*,
        max(case when previous_state is distinct from state then started_at end) over (
            partition by machine_id
            order by started_at, file_id, line_no
            rows unbounded preceding
        ) as stop_started_at
    from intervals

),

stop_lengths as (

    select
        stops.*,
        {{ seconds_between('min(started_at) over by_stop', 'max(ended_at) over by_stop') }}
            as stop_s
    from stops
    window by_stop as (partition by machine_id, stop_started_at)

),

cut_points as (

    -- the interval's start and every edge strictly inside it
    select
        stop_lengths.*,
        cuts.cut_at
    from stop_lengths
    cross join lateral (
        select stop_lengths.started_at as cut_at
        union
        select {{ local_midnight('calendar_day::date') }}
        from generate_series(
            {{ local_date('stop_lengths.started_at') }} + 1,
            {{ local_date('stop_lengths.ended_at') }},
            interval '1 day'
        ) as calendar_day
        {%- for relation, column, machine_filter in [
            ('int_shift_instances', 'started_at', false),
            ('int_shift_instances', 'ended_at', false),
            ('int_planned_downtime_windows', 'window_started_at', true),
            ('int_planned_downtime_windows', 'window_ended_at', true),
            ('int_operator_badges', 'badged_at', true),
        ] %}
        union
        select edges.{{ column }}
        from {{ ref(relation) }} as edges
        where edges.{{ column }} > stop_lengths.started_at
          and edges.{{ column }} < stop_lengths.ended_at
          {% if machine_filter %}and edges.machine_id = stop_lengths.machine_id{% endif %}
        {%- endfor %}
    ) as cuts

),

segments as (

    select
        cut_points.*,
        coalesce(
            lead(cut_at) over (partition by file_id, line_no order by cut_at),
            ended_at
        ) as segment_ended_at
    from cut_points

),

located as (

    select
        segments.*,
        shifts.shift_code,
        shifts.shift_date,
        shifts.started_at as shift_started_at,
        {{ in_planned_window('segments.machine_id', 'segments.cut_at') }} as in_planned_window
    from segments
    {{ shift_instance_at('segments.cut_at') }}

),

badged as (

    select
        located.*,
        badge.operator_badge
    from located
    {{ badge_at('located.machine_id', 'located.cut_at', 'located.shift_started_at') }}

),

final as (

    select
        machine_id,
        file_id,
        line_no,
        state,
        {{ local_date('cut_at') }} as production_date,
        shift_code,
        shift_date,
        operator_badge,
        in_planned_window,
        in_planned_window and state in ('SETUP', 'DOWN', 'IDLE') as is_planned_downtime,
        state = 'DOWN' and previous_state is distinct from 'DOWN' and cut_at = started_at
            as is_failure_start,
        stop_started_at,
        stop_s,
        cut_at = stop_started_at as is_stop_start,
        case
            when state = 'DOWN' and stop_s >= {{ var('microstop_threshold_s') }} then 'breakdown'
            when state in ('DOWN', 'IDLE') and stop_s < {{ var('microstop_threshold_s') }}
                then 'microstop'
            when state = 'IDLE' then 'idle'
        end as stop_class,
        cut_at as segment_started_at,
        segment_ended_at,
        {{ seconds_between('cut_at', 'segment_ended_at') }} as duration_s,
        batch.batch_file_id
    from badged
    cross join batch
    where segment_ended_at > cut_at or cut_at = started_at

)

select * from final
