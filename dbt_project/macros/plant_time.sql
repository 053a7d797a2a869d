{#- The plant's IANA time zone: the dbt var wins, else the PLANT_TIMEZONE env var, else Paris
    (the same default as Python's, shutter_assets/lib/plant.py). -#}
{% macro plant_timezone() -%}
    {%- set tz = var('plant_timezone', none) or env_var('PLANT_TIMEZONE', 'Europe/Paris') -%}
    {{- return(tz) -}}
{%- endmacro %}

{#- Plant-local calendar day of a true instant (timestamptz). -#}
{% macro local_date(ts) -%}
    (({{ ts }}) at time zone '{{ plant_timezone() }}')::date
{%- endmacro %}

{#- The true instant at which a plant-local calendar day starts (timestamptz). -#}
{% macro local_midnight(d) -%}
    (({{ d }})::timestamp at time zone '{{ plant_timezone() }}')
{%- endmacro %}

{#- True elapsed seconds between two instants, as numeric (milliseconds kept). -#}
{% macro seconds_between(t0, t1) -%}
    extract(epoch from (({{ t1 }}) - ({{ t0 }})))
{%- endmacro %}

{#- a / b, NULL when b is 0 or NULL (ISO 22400-2 ratios are undefined on an empty denominator). -#}
{% macro safe_ratio(a, b) -%}
    (({{ a }})::numeric / nullif(({{ b }})::numeric, 0))
{%- endmacro %}

{#- The true instant of a plant-local day plus a local time of day (timestamptz). -#}
{% macro local_instant(d, t) -%}
    ((({{ d }})::date + ({{ t }})::time) at time zone '{{ plant_timezone() }}')
{%- endmacro %}

{#- The plant-local days over which weekly calendars are expanded (vars calendar_*_date). -#}
{% macro calendar_days(alias='calendar_day') -%}
    generate_series(
        '{{ var("calendar_first_date") }}'::date,
        '{{ var("calendar_last_date") }}'::date,
        interval '1 day'
    ) as {{ alias }}
{%- endmacro %}
