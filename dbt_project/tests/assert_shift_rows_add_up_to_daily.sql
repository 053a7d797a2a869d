{#-
    Nothing is lost between the grains (DESIGN.md s.6): per machine, the machine_oee_shift rows
    (shift instances plus "no shift" rows) add up exactly to the machine_oee_daily rows over the
    whole history, and per day for the days no shift instance crosses into or out of.
-#}
{%- set columns = ['planned_busy_s', 'run_s', 'setup_s', 'down_s', 'idle_s',
    'planned_downtime_s', 'produced_qty', 'good_qty', 'scrap_qty', 'ideal_run_s'] -%}

with

daily as (

    select
        machine_id,
        production_date as day,
        {% for c in columns %}{{ c }}{{ ',' if not loop.last }}{% endfor %}
    from {{ ref('machine_oee_daily') }}

),

shift as (

    select
        machine_id,
        shift_date as day,
        {% for c in columns %}{{ c }}{{ ',' if not loop.last }}{% endfor %}
    from {{ ref('machine_oee_shift') }}

),

crossed_days as (

    select shift_date as day
    from {{ ref('int_shift_instances') }}
    where ended_at > {{ local_midnight('shift_date + 1') }}
    union
    select {{ local_date('ended_at') }}
    from {{ ref('int_shift_instances') }}
    where ended_at > {{ local_midnight('shift_date + 1') }}

),

{% for grain, keys in [('history', ['machine_id']), ('day', ['machine_id', 'day'])] %}
{{ grain }}_differences as (

    select
        '{{ grain }}' as grain,
        {% for k in keys %}coalesce(d.{{ k }}, s.{{ k }}) as {{ k }},{% endfor %}
        {% for c in columns %}d.{{ c }} as daily_{{ c }}, s.{{ c }} as shift_{{ c }}{{ ',' if not loop.last }}{% endfor %}
    from (
        select {{ keys | join(', ') }},
            {% for c in columns %}sum({{ c }}) as {{ c }}{{ ',' if not loop.last }}{% endfor %}
        from daily
        {% if grain == 'day' %}where day not in (select day from crossed_days){% endif %}
        group by {{ keys | join(', ') }}
    ) as d
    full outer join (
        select {{ keys | join(', ') }},
            {% for c in columns %}sum({{ c }}) as {{ c }}{{ ',' if not loop.last }}{% endfor %}
        from shift
        {% if grain == 'day' %}where day not in (select day from crossed_days){% endif %}
        group by {{ keys | join(', ') }}
    ) as s
        on {% for k in keys %}d.{{ k }} = s.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
    where {% for c in columns %}coalesce(d.{{ c }}, 0) <> coalesce(s.{{ c }}, 0){{ ' or ' if not loop.last }}{% endfor %}

),
{% endfor %}

final as (

    select grain, machine_id, null::date as day from history_differences
    union all
    select grain, machine_id, day from day_differences

)

select * from final
