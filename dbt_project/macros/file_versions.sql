{#-
    DESIGN.md section 4: a path has one current version. When a log file changes after it was
    loaded, the loader deletes the earlier version's raw rows and keeps its registry row as
    `superseded`; the new version arrives with a new, higher file_id, which the incremental models
    pick up like any new file. This pre-hook removes what an incremental model derived from a
    superseded file (rows keyed by its file_id) before the model's new rows are computed, so a
    line is never counted twice. An index probe per superseded file: they are rare. The rows of
    machines a late file or a new version changed go too (macros/late_files.sql): the model
    rebuilds them whole.
-#}
{% macro delete_superseded_rows() -%}
    {%- if is_incremental() and not lagging_log_ancestors() -%}
        delete from {{ this }}
        where file_id in (
            select file_id
            from {{ source('raw', 'ingested_files') }}
            where status = 'superseded'
        );
        {{ delete_late_machine_rows() }}
    {%- endif -%}
{%- endmacro %}
