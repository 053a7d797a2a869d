{#-
    The summed components of every shift-level mart (DESIGN.md s.6), per machine, plant-local
    day, shift instance (shift_code/shift_date NULL: no shift) and operator badge (NULL:
    unassigned): state seconds after the precedence rule (SETUP, DOWN and IDLE inside a planned
    window are planned_*_s, outside PBT; RUNNING stays run_s), the stops of the six big losses,
    and production counts with the ideal time of produced, scrapped and startup-scrapped parts
    (PRU of the programs seed). Every mart re-aggregates these sums; none averages a ratio.

    Incremental: the machine-days touched by the last build of int_machine_state_segments or
    int_production_counts_shift are recomputed from all their rows (delete+insert on
    machine_id, production_date), one index range scan per day.
-#}
{{
    config(
        pre_hook="{{ delete_late_machine_rows() }}",
        unique_key=['machine_id', 'production_date'],
        indexes=[
            {'columns': ['machine_id', 'production_date']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set watermark = incremental_watermark() %}
{%- set unplanned = "not pieces.is_planned_downtime" -%}
{%- set state_sums = {
    'run_s': "sum(pieces.duration_s) filter (where pieces.state = 'RUNNING')",
    'setup_s': "sum(pieces.duration_s) filter (where pieces.state = 'SETUP' and " ~ unplanned ~ ")",
    'down_s': "sum(pieces.duration_s) filter (where pieces.state = 'DOWN' and " ~ unplanned ~ ")",
    'idle_s': "sum(pieces.duration_s) filter (where pieces.state = 'IDLE' and " ~ unplanned ~ ")",
    'off_s': "sum(pieces.duration_s) filter (where pieces.state = 'OFF')",
    'planned_setup_s': "sum(pieces.duration_s) filter (where pieces.state = 'SETUP' and pieces.is_planned_downtime)",
    'planned_down_s': "sum(pieces.duration_s) filter (where pieces.state = 'DOWN' and pieces.is_planned_downtime)",
    'planned_idle_s': "sum(pieces.duration_s) filter (where pieces.state = 'IDLE' and pieces.is_planned_downtime)",
    'breakdown_s': "sum(pieces.duration_s) filter (where pieces.stop_class = 'breakdown' and " ~ unplanned ~ ")",
    'breakdown_count': "count(*) filter (where pieces.stop_class = 'breakdown' and pieces.is_stop_start and " ~ unplanned ~ ")",
    'minor_stop_s': "sum(pieces.duration_s) filter (where pieces.stop_class in ('microstop', 'idle') and " ~ unplanned ~ ")",
    'microstop_s': "sum(pieces.duration_s) filter (where pieces.stop_class = 'microstop' and " ~ unplanned ~ ")",
    'microstop_count': "count(*) filter (where pieces.stop_class = 'microstop' and pieces.is_stop_start and " ~ unplanned ~ ")",
} -%}
{%- set count_sums = {
    'produced_qty': "sum(counts.produced_qty)",
    'scrap_qty': "sum(counts.scrap_qty)",
    'startup_scrap_qty': "sum(counts.startup_scrap_qty)",
    'cycle_count': "sum(counts.cycle_count)",
    'ideal_run_s': "sum(counts.produced_qty * programs.ideal_s_per_part)",
    'scrap_ideal_s': "sum(counts.scrap_qty * programs.ideal_s_per_part)",
    'good_ideal_s': "sum((counts.produced_qty - counts.scrap_qty) * programs.ideal_s_per_part)",
    'startup_reject_ideal_s': "sum(counts.startup_scrap_qty * programs.ideal_s_per_part)",
} -%}
{%- set keys = ['shift_code', 'shift_date', 'operator_badge'] -%}

{% set late = late_machine_ids() %}

with

affected_days as (

    select machine_id, production_date
    from {{ ref('int_machine_state_segments') }}
    {% if is_incremental() %} where (batch_file_id > {{ watermark }} {{ or_late_machine(late) }}) {% endif %}
    union
    select machine_id, production_date
    from {{ ref('int_production_counts_shift') }}
    {% if is_incremental() %} where (batch_file_id > {{ watermark }} {{ or_late_machine(late) }}) {% endif %}

),

state_time as (

    -- one index range scan of (machine_id, production_date) per affected day
    select
        affected_days.machine_id,
        affected_days.production_date,
        {% for key in keys %}day_pieces.{{ key }},{% endfor %}
        {% for name in state_sums %}day_pieces.{{ name }},{% endfor %}
        {% for name in count_sums %}0 as {{ name }},{% endfor %}
        day_pieces.batch_file_id
    from affected_days
    cross join lateral (
        select
            {% for key in keys %}pieces.{{ key }},{% endfor %}
            {% for name, expr in state_sums.items() %}coalesce({{ expr }}, 0) as {{ name }},{% endfor %}
            max(pieces.batch_file_id) as batch_file_id
        from {{ ref('int_machine_state_segments') }} as pieces
        where pieces.machine_id = affected_days.machine_id
          and pieces.production_date = affected_days.production_date
        group by {% for key in keys %}pieces.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    ) as day_pieces

),

counted as (

    select
        affected_days.machine_id,
        affected_days.production_date,
        {% for key in keys %}day_counts.{{ key }},{% endfor %}
        {% for name in state_sums %}0 as {{ name }},{% endfor %}
        {% for name in count_sums %}day_counts.{{ name }},{% endfor %}
        day_counts.batch_file_id
    from affected_days
    cross join lateral (
        select
            {% for key in keys %}counts.{{ key }},{% endfor %}
            {% for name, expr in count_sums.items() %}coalesce({{ expr }}, 0) as {{ name }},{% endfor %}
            max(counts.batch_file_id) as batch_file_id
        from {{ ref('int_production_counts_shift') }} as counts
        left join {{ ref('programs') }} as programs on counts.program = programs.program
        where counts.machine_id = affected_days.machine_id
          and counts.production_date = affected_days.production_date
        group by {% for key in keys %}counts.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    ) as day_counts

),

combined as (

    select * from state_time
    union all
    select * from counted

),

final as (

    select
        machine_id,
        production_date,
        {% for key in keys %}{{ key }},{% endfor %}
        {% for name in state_sums %}sum({{ name }}) as {{ name }},{% endfor %}
        {% for name in count_sums %}sum({{ name }}) as {{ name }},{% endfor %}
        max(batch_file_id) as batch_file_id
    from combined
    group by machine_id, production_date, {{ keys | join(', ') }}

)

select * from final
