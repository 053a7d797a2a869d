{#-
    The newest file_id an incremental model has already processed (its max batch_file_id), as a
    literal rendered into the SQL, so PostgreSQL sees `file_id > 12345` and range-scans the
    raw.machine_events primary key instead of guessing at a sub-select. 0 on a first or full build.

    Past every file (nothing new is read, no late machine) while an incremental ancestor has not
    read as far as the bounds model (macros/log_progress.sql).

    Assumes files are committed in file_id order (one ingestion run at a time, as the machine-log
    sensor does); `dbt build --full-refresh` rebuilds everything exactly in any case.
-#}
{% macro incremental_watermark(column='batch_file_id') -%}
    {%- if execute and is_incremental() and lagging_log_ancestors() -%}
        {#- an ancestor has not read as far (macros/log_progress.sql): read nothing new -#}
        {{- return(9223372036854775807) -}}
    {%- elif execute and is_incremental() -%}
        {%- set result = run_query('select coalesce(max(' ~ column ~ '), 0) from ' ~ this) -%}
        {{- return(result.columns[0].values()[0] | int) -}}
    {%- else -%}
        {{- return(0) -}}
    {%- endif -%}
{%- endmacro %}

{#-
    Tests on the large intermediate tables check the rows the last build wrote (the newest
    batch_file_id), so an incremental build does not rescan history; `--vars '{full_tests: true}'`
    (used by pytest) checks every row.
-#}
{% macro latest_batch_filter(model) -%}
    {%- if var('full_tests', false) -%}
        true
    {%- else -%}
        batch_file_id = (select max(batch_file_id) from {{ model }})
    {%- endif -%}
{%- endmacro %}
