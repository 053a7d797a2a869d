{#-
    Changeovers between consecutive orders on one machine (DESIGN.md s.6): for the blocks of
    consecutive completed cycles of one order (cycles without an order, for stock, are skipped),
    the changeover from order k-1 to order k runs from the last CYCLE_END of k-1 to the first
    CYCLE_END of k. changeover_s is the non-RUNNING time of planned busy time in it (SETUP, DOWN
    and IDLE outside planned downtime); the planned downtime and OFF time in it are reported
    apart, and elapsed_s is the whole span. Grain: one row per machine and order block k > 1.
-#}
with

order_cycles as (

    select
        machine_id,
        order_ref,
        ended_at,
        lag(order_ref) over by_end as previous_order_ref
    from {{ ref('int_machine_cycles') }}
    where cycle_status = 'completed'
      and order_ref is not null
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
        max(ended_at) as last_cycle_end_at
    from numbered
    group by machine_id, block_no

),

pairs as (

    select
        machine_id,
        lag(order_ref) over by_block as previous_order_ref,
        order_ref,
        lag(last_cycle_end_at) over by_block as started_at,
        first_cycle_end_at as ended_at
    from blocks
    window by_block as (partition by machine_id order by block_no)

),

measured as (

    select
        pairs.*,
        spans.setup_s,
        spans.changeover_s,
        spans.planned_downtime_s,
        spans.off_s
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

),

final as (

    select
        machine_id,
        previous_order_ref,
        order_ref,
        started_at,
        ended_at,
        {{ local_date('started_at') }} as changeover_date,
        {{ as_seconds(seconds_between('started_at', 'ended_at')) }} as elapsed_s,
        {{ as_seconds('changeover_s') }} as changeover_s,
        {{ as_seconds('setup_s') }} as setup_s,
        {{ as_seconds('planned_downtime_s') }} as planned_downtime_s,
        {{ as_seconds('off_s') }} as off_s
    from measured

)

select * from final
