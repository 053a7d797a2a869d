{#-
    Generic test: the combination of `columns` is unique (dbt_utils is not reachable offline).
    recent_only: only keys present among the rows of the newest batch_file_id are checked (against
    the whole table), so an incremental build does not rescan history; see latest_batch_filter.
-#}
{% test unique_combination(model, columns, recent_only=false) %}
{%- set key = columns | join(', ') -%}
select {{ key }}, count(*) as occurrences
from {{ model }}
{%- if recent_only and not var('full_tests', false) %}
where ({{ key }}) in (
    select {{ key }} from {{ model }} where {{ latest_batch_filter(model) }}
)
{%- endif %}
group by {{ key }}
having count(*) > 1
{% endtest %}
