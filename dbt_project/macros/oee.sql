{#-
    ISO 22400-2 OEE (DESIGN.md s.6), the one place its formulas are written: the select list of
    the components and ratios of a mart (machine_oee_daily, machine_oee_shift,
    operator_performance), from the summed seconds and counts of `relation` (a CTE alias, or none
    for unqualified columns) named run_s, setup_s, down_s, idle_s (after the planned-downtime
    precedence rule), ideal_run_s, produced_qty and scrap_qty:

        planned_busy_s (PBT) = run_s + setup_s + down_s + idle_s
        availability = run_s / PBT                 performance = ideal_run_s / run_s
        quality = (produced_qty - scrap_qty) / produced_qty
        oee = availability x performance x quality (NULL when any denominator is 0)

    Columns, with the BI types of macros/bi_types.sql: planned_busy_s, run_s, setup_s, down_s,
    idle_s, produced_qty, good_qty, scrap_qty, ideal_run_s, availability, performance, quality,
    oee. Ratios are always divided from sums at the row's grain, never averaged.
-#}
{% macro oee_columns(relation=none) -%}
    {%- set p = relation ~ '.' if relation else '' -%}
    {%- set pbt = p ~ 'run_s + ' ~ p ~ 'setup_s + ' ~ p ~ 'down_s + ' ~ p ~ 'idle_s' -%}
    {%- set good = p ~ 'produced_qty - ' ~ p ~ 'scrap_qty' -%}
    {%- set availability = safe_ratio(p ~ 'run_s', pbt) -%}
    {%- set performance = safe_ratio(p ~ 'ideal_run_s', p ~ 'run_s') -%}
    {%- set quality = safe_ratio(good, p ~ 'produced_qty') -%}
        {{ as_seconds(pbt) }} as planned_busy_s,
        {{ as_seconds(p ~ 'run_s') }} as run_s,
        {{ as_seconds(p ~ 'setup_s') }} as setup_s,
        {{ as_seconds(p ~ 'down_s') }} as down_s,
        {{ as_seconds(p ~ 'idle_s') }} as idle_s,
        {{ as_count(p ~ 'produced_qty') }} as produced_qty,
        {{ as_count(good) }} as good_qty,
        {{ as_count(p ~ 'scrap_qty') }} as scrap_qty,
        {{ as_seconds(p ~ 'ideal_run_s') }} as ideal_run_s,
        {{ as_ratio(availability) }} as availability,
        {{ as_ratio(performance) }} as performance,
        {{ as_ratio(quality) }} as quality,
        {{ as_ratio(availability ~ ' * ' ~ performance ~ ' * ' ~ quality) }} as oee
{%- endmacro %}
