{#-
    Changeovers between consecutive orders on one machine (DESIGN.md s.6): for the blocks of
    consecutive completed cycles of one order (cycles without an order, for stock, are skipped),
    the changeover from order k-1 to order k runs from the last CYCLE_END of k-1 to the first
    CYCLE_END of k. changeover_s is the non-RUNNING time of planned busy time in it (SETUP, DOWN
    and IDLE outside planned downtime); the planned downtime and OFF time in it are reported
    apart, and elapsed_s is the whole span. Grain: one row per machine and order block k > 1.
    Computed incrementally by int_changeovers; this mart gives it the BI types.
-#}
with

changeovers as (

    select
        machine_id,
        previous_order_ref,
        order_ref,
        started_at,
        ended_at,
        setup_s,
        changeover_s,
        planned_downtime_s,
        off_s
    from {{ ref('int_changeovers') }}

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
    from changeovers

)

select * from final
