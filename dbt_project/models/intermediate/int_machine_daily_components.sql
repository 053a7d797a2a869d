{#-
    The summed ISO 22400-2 components per machine and plant-local day, from which the marts
    compute their ratios: state seconds (pieces of intervals split at midnight), failures
    (entries into DOWN that began that day), production counts and ideal run time (PRU × PQ per
    program, programs seed). Grain: one row per (machine_id, production_date).

    Incremental: only the machine-days touched by the last build of int_machine_state_daily or
    int_production_counts are recomputed (from all their rows). After editing the programs seed,
    rebuild with `dbt build --full-refresh -s int_machine_daily_components+`.
-#}
{{
    config(
        pre_hook="{{ delete_late_machine_rows() }}",
        unique_key=['machine_id', 'production_date'],
        indexes=[
            {'columns': ['machine_id', 'production_date'], 'unique': true},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set watermark = incremental_watermark() %}

{% set late = late_machine_ids() %}

with

affected_days as (

    select machine_id, production_date
    from {{ ref('int_machine_state_daily') }}
    {% if is_incremental() %} where (batch_file_id > {{ watermark }} {{ or_late_machine(late) }}) {% endif %}
    union
    select machine_id, production_date
    from {{ ref('int_production_counts') }}
    {% if is_incremental() %} where (batch_file_id > {{ watermark }} {{ or_late_machine(late) }}) {% endif %}

),

state_time as (

    {% if is_incremental() %}
    -- a few affected days: one index range scan of (machine_id, production_date) per day (the
    -- planner cannot know how few days affected_days holds and would scan every piece)
    select
        affected_days.machine_id,
        affected_days.production_date,
        day_pieces.run_s,
        day_pieces.setup_s,
        day_pieces.down_s,
        day_pieces.idle_s,
        day_pieces.off_s,
        day_pieces.failure_count,
        day_pieces.batch_file_id
    from affected_days
    cross join lateral (
        select
            sum(pieces.duration_s) filter (where pieces.state = 'RUNNING') as run_s,
            sum(pieces.duration_s) filter (where pieces.state = 'SETUP') as setup_s,
            sum(pieces.duration_s) filter (where pieces.state = 'DOWN') as down_s,
            sum(pieces.duration_s) filter (where pieces.state = 'IDLE') as idle_s,
            sum(pieces.duration_s) filter (where pieces.state = 'OFF') as off_s,
            count(*) filter (where pieces.is_failure_start) as failure_count,
            max(pieces.batch_file_id) as batch_file_id
        from {{ ref('int_machine_state_daily') }} as pieces
        where pieces.machine_id = affected_days.machine_id
          and pieces.production_date = affected_days.production_date
          and (pieces.duration_s > 0 or pieces.is_failure_start)
        having count(*) > 0
    ) as day_pieces
    {% else %}
    -- every day: one pass over all pieces
    select
        pieces.machine_id,
        pieces.production_date,
        sum(pieces.duration_s) filter (where pieces.state = 'RUNNING') as run_s,
        sum(pieces.duration_s) filter (where pieces.state = 'SETUP') as setup_s,
        sum(pieces.duration_s) filter (where pieces.state = 'DOWN') as down_s,
        sum(pieces.duration_s) filter (where pieces.state = 'IDLE') as idle_s,
        sum(pieces.duration_s) filter (where pieces.state = 'OFF') as off_s,
        count(*) filter (where pieces.is_failure_start) as failure_count,
        max(pieces.batch_file_id) as batch_file_id
    from {{ ref('int_machine_state_daily') }} as pieces
    inner join affected_days
        on pieces.machine_id = affected_days.machine_id
        and pieces.production_date = affected_days.production_date
    where pieces.duration_s > 0 or pieces.is_failure_start
    group by pieces.machine_id, pieces.production_date
    {% endif %}

),

counts as (

    select
        counts.machine_id,
        counts.production_date,
        sum(counts.produced_qty) as produced_qty,
        sum(counts.scrap_qty) as scrap_qty,
        sum(counts.cycle_count) as cycle_count,
        sum(counts.produced_qty * programs.ideal_s_per_part) as ideal_run_s,
        max(counts.batch_file_id) as batch_file_id
    from {{ ref('int_production_counts') }} as counts
    inner join affected_days
        on counts.machine_id = affected_days.machine_id
        and counts.production_date = affected_days.production_date
    left join {{ ref('programs') }} as programs on counts.program = programs.program
    group by counts.machine_id, counts.production_date

),

final as (

    select
        coalesce(state_time.machine_id, counts.machine_id) as machine_id,
        coalesce(state_time.production_date, counts.production_date) as production_date,
        coalesce(state_time.run_s, 0) as run_s,
        coalesce(state_time.setup_s, 0) as setup_s,
        coalesce(state_time.down_s, 0) as down_s,
        coalesce(state_time.idle_s, 0) as idle_s,
        coalesce(state_time.off_s, 0) as off_s,
        coalesce(state_time.failure_count, 0) as failure_count,
        coalesce(counts.produced_qty, 0) as produced_qty,
        coalesce(counts.scrap_qty, 0) as scrap_qty,
        coalesce(counts.cycle_count, 0) as cycle_count,
        coalesce(counts.ideal_run_s, 0) as ideal_run_s,
        greatest(state_time.batch_file_id, counts.batch_file_id) as batch_file_id
    from state_time
    full outer join counts
        on state_time.machine_id = counts.machine_id
        and state_time.production_date = counts.production_date

)

select * from final
