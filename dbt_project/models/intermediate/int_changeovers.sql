{#-
    Changeovers between consecutive orders on one machine (DESIGN.md s.6), the work of the mart
    changeovers: for the blocks of consecutive completed cycles of one order (cycles without an
    order, for stock, are skipped), the changeover from order k-1 to order k runs from the last
    CYCLE_END of k-1 to the first CYCLE_END of k; its SETUP, DOWN, IDLE (outside planned
    downtime), planned-downtime and OFF seconds are summed from int_machine_state_segments.
    Grain: one row per machine and order block k > 1 (unique key machine_id, ended_at).

    Incremental: per machine with completed cycles loaded since the last build (batch_file_id),
    the changeovers are recomputed from the start of its last changeover that ended before the
    first new cycle (a block start: the cycles from there on decide every later pair), with one
    index range scan of (machine_id, ended_at); delete+insert replaces the rows recomputed. A
    late file (one that can merge or split blocks) makes its machine recomputed whole, its rows
    deleted first (macros/late_files.sql).
-#}
{{
    config(
        pre_hook="{{ delete_late_machine_rows() }}",
        unique_key=['machine_id', 'ended_at'],
        indexes=[
            {'columns': ['machine_id', 'ended_at']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set watermark = incremental_watermark() %}

{% set late = late_machine_ids() %}

with

new_cycles as (

    select
        machine_id,
        min(ended_at) as first_new_end_at,
        max(batch_file_id) as batch_file_id
    from {{ ref('int_machine_cycles') }}
    where cycle_status = 'completed'
      and order_ref is not null
      {% if is_incremental() %} and (batch_file_id > {{ watermark }} {{ or_late_machine(late) }}) {% endif %}
    group by machine_id

),

windows as materialized (

    select
        new_cycles.machine_id,
        new_cycles.batch_file_id,
        {% if is_incremental() %}
        coalesce(
            (
                select max(done.ended_at)
                from {{ this }} as done
                where done.machine_id = new_cycles.machine_id
                  and done.ended_at < new_cycles.first_new_end_at
            ),
            '-infinity'::timestamptz
        ) as window_started_at
        {% else %}
        '-infinity'::timestamptz as window_started_at
        {% endif %}
    from new_cycles

),

window_cycles as (

    -- incremental: one index range scan of (machine_id, ended_at) per machine; `offset 0` keeps
    -- PostgreSQL from pulling the lateral subquery up into a hash join over every completed
    -- cycle with the window's start re-evaluated per cycle (50 s instead of milliseconds at
    -- 10 M events). A full build reads every cycle anyway (one hash join).
    select
        windows.machine_id,
        windows.batch_file_id,
        cycles.order_ref,
        cycles.ended_at,
        cycles.file_id,
        cycles.line_no
    from windows
    cross join lateral (
        select order_ref, ended_at, file_id, line_no
        from {{ ref('int_machine_cycles') }} as cycles
        where cycles.machine_id = windows.machine_id
          and cycles.ended_at >= windows.window_started_at
          and cycles.cycle_status = 'completed'
          and cycles.order_ref is not null
        {% if is_incremental() %} offset 0 {% endif %}
    ) as cycles

),

order_cycles as (

    select
        machine_id,
        batch_file_id,
        order_ref,
        ended_at,
        lag(order_ref) over by_end as previous_order_ref
    from window_cycles
    window by_end as (partition by machine_id order by ended_at, file_id, line_no)

),

numbered as (

    select
        order_cycles.*,
        count(*) filter (where order_ref is distinct from previous_order_ref) over (
            partition by machine_id
            order by ended_at
            rows unbounded preceding
        ) as block_no
    from order_cycles

),

blocks as (

    select
        machine_id,
        block_no,
        min(order_ref) as order_ref,
        min(ended_at) as first_cycle_end_at,
        max(ended_at) as last_cycle_end_at,
        max(batch_file_id) as batch_file_id
    from numbered
    group by machine_id, block_no

),

pairs as (

    select
        machine_id,
        batch_file_id,
        lag(order_ref) over by_block as previous_order_ref,
        order_ref,
        lag(last_cycle_end_at) over by_block as started_at,
        first_cycle_end_at as ended_at
    from blocks
    window by_block as (partition by machine_id order by block_no)

),

final as (

    select
        pairs.machine_id,
        pairs.previous_order_ref,
        pairs.order_ref,
        pairs.started_at,
        pairs.ended_at,
        spans.setup_s,
        spans.changeover_s,
        spans.planned_downtime_s,
        spans.off_s,
        pairs.batch_file_id
    from pairs
    cross join lateral (
        select
            coalesce(sum(overlap_s) filter (where state = 'SETUP' and not is_planned_downtime), 0)
                as setup_s,
            coalesce(sum(overlap_s) filter (
                where state in ('SETUP', 'DOWN', 'IDLE') and not is_planned_downtime), 0
            ) as changeover_s,
            coalesce(sum(overlap_s) filter (where is_planned_downtime), 0) as planned_downtime_s,
            coalesce(sum(overlap_s) filter (where state = 'OFF'), 0) as off_s
        from (
            select
                segments.state,
                segments.is_planned_downtime,
                {{ seconds_between('greatest(segments.segment_started_at, pairs.started_at)',
                    'least(segments.segment_ended_at, pairs.ended_at)') }} as overlap_s
            from {{ ref('int_machine_state_segments') }} as segments
            where segments.machine_id = pairs.machine_id
              and segments.production_date
                between {{ local_date('pairs.started_at') }} and {{ local_date('pairs.ended_at') }}
              and segments.segment_started_at < pairs.ended_at
              and segments.segment_ended_at > pairs.started_at
        ) as overlapping
    ) as spans
    where pairs.previous_order_ref is not null

)

select * from final
