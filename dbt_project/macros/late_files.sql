{#-
    Late files (DESIGN.md section 4; issue 11): machines upload out of order (a backlog after an
    outage, a corrected file under its old name). The incremental log models pair and sequence
    each machine's events (a state lasts until the next one, a cycle ends at the next CYCLE_END,
    an order block ends where the next begins, a scrap is a startup reject after a transition...),
    and their windows assume a new file continues the machine's history. When it does not, the
    machine is "late" for the model and is rebuilt whole from all its rows, so every incremental
    build equals a full refresh (tests/test_dbt_late_files.py, one test per model).

    A machine is late for a model whose watermark (its max batch_file_id) is W when, since W,
    - a loaded file of it starts before the latest event of its files the model already read
      (ties sort after, by file_id: not late), or
    - a version the model already read was superseded (its rows and their pairings change).
    Never on a full build. The list is rendered into the SQL (no sub-select on raw.machine_events:
    the normal path keeps its file_id range scan) and read once per model: the pre-hook that
    deletes the machine's rows and the model's filters see the same list.

    Cost: a late machine is re-read whole (a scan of raw.machine_events for it). A machine whose
    clock ran ahead (files dated in the future) makes each later file late until the future
    files are the past; correct, slower.
-#}
{% macro late_machine_ids() -%}
    {#- ref/source first: parsing records them as dependencies of the calling model -#}
    {%- set bounds = ref('int_file_event_bounds') -%}
    {%- set files = source('raw', 'ingested_files') -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set watermark = incremental_watermark() -%}
    {%- set query -%}
        select distinct new.machine_id
        from {{ bounds }} as new
        inner join {{ files }} as new_file on new.file_id = new_file.file_id
        where (
            new.file_id > {{ watermark }}
            and new_file.status = 'loaded'
            and new.first_event_at < (
                select max(known.last_event_at)
                from {{ bounds }} as known
                inner join {{ files }} as known_file on known.file_id = known_file.file_id
                where known.machine_id = new.machine_id
                  and known.file_id <= {{ watermark }}
                  and known_file.status = 'loaded'
            )
        ) or (
            new.file_id <= {{ watermark }}
            and new_file.status = 'superseded'
            and new_file.superseded_by > {{ watermark }}
        )
        order by 1
    {%- endset -%}
    {{- return(run_query(query).columns[0].values() | list) -}}
{%- endmacro %}

{#- `or machine_id in (<late machines>)` after a model's new-rows filter; nothing when none. -#}
{% macro or_late_machine(late, column='machine_id') -%}
    {%- if late -%}
        or {{ column }} in ({% for m in late %}'{{ m | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: the rows of late machines go before the model rebuilds them whole. -#}
{% macro delete_late_machine_rows(late=none) -%}
    {%- set late = late_machine_ids() if late is none else late -%}
    {%- if late -%}
        delete from {{ this }} where false {{ or_late_machine(late) }}
    {%- endif -%}
{%- endmacro %}
