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
    the normal path keeps its file_id range scan). The model's SQL and its pre-hook (which deletes
    the late machines' rows) each ask, and get the same list: both read only what the bounds model
    recorded (up to bounds_watermark(), which no log model reads past), with each file's status as
    of that point, so a file loaded or superseded while dbt runs changes neither answer and waits
    for the next build.

    Cost: a late machine is re-read whole (a scan of raw.machine_events for it). A machine whose
    clock ran ahead (files dated in the future) makes each later file late until the future
    files are the past; correct, slower.
-#}
{% macro late_machine_ids() -%}
    {#- ref/source first: parsing records them as dependencies of the calling model -#}
    {%- set bounds = ref('int_file_event_bounds') -%}
    {%- set files = source('raw', 'ingested_files') -%}
    {{- refuse_full_build_behind_ancestors() -}}
    {%- if not (execute and is_incremental()) -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set watermark = incremental_watermark() -%}
    {%- set read_to = bounds_watermark() -%}
    {%- set query -%}
        with

        spans as (

            {#- a version superseded by a file the bounds have not read yet is still current for
                this build: the list does not change between the model's SQL and its pre-hook -#}
            select
                bounds.machine_id,
                bounds.file_id,
                bounds.first_event_at,
                bounds.last_event_at,
                (
                    files.status = 'loaded' or files.superseded_by > {{ read_to }}
                ) as is_current,
                files.superseded_by
            from {{ bounds }} as bounds
            inner join {{ files }} as files on bounds.file_id = files.file_id
            where bounds.file_id <= {{ read_to }}
              and bounds.machine_id is not null

        )

        select distinct new.machine_id
        from spans as new
        where (
            new.file_id > {{ watermark }}
            and new.is_current
            and new.first_event_at < (
                select max(known.last_event_at)
                from spans as known
                where known.machine_id = new.machine_id
                  and known.file_id <= {{ watermark }}
                  and known.is_current
            )
        ) or (
            new.file_id <= {{ watermark }}
            and new.superseded_by > {{ watermark }}
            and new.superseded_by <= {{ read_to }}
        )
        order by 1
    {%- endset -%}
    {{- return(run_query(query).columns[0].values() | list) -}}
{%- endmacro %}

{#-
    The newest file_id int_file_event_bounds has recorded: no log model reads past it (on full
    builds too), so every file a model has read has its span there, and a file loaded while dbt
    runs (or a selection without the bounds model, or a retry of failed models only) waits for the
    next build instead of slipping past the late-file check. 0 when the bounds table does not exist
    yet on an incremental build (nothing is read), none on a full build then (nothing to cap:
    `dbt compile` on an empty database).
-#}
{% macro bounds_watermark() -%}
    {%- set bounds = ref('int_file_event_bounds') -%}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if adapter.get_relation(bounds.database, bounds.schema, bounds.identifier) is none -%}
        {{- return(0 if is_incremental() else none) -}}
    {%- endif -%}
    {%- set result = run_query('select coalesce(max(file_id), 0) from ' ~ bounds) -%}
    {{- return(result.columns[0].values()[0] | int) -}}
{%- endmacro %}

{#-
    The filter of a log model reading stg_raw__machine_events: the files it has not read yet and
    every file of its late machines, never past bounds_watermark().
-#}
{% macro unread_or_late(late, column='file_id') -%}
    {%- set read_to = bounds_watermark() -%}
    {%- if is_incremental() -%}
        ({{ column }} > {{ incremental_watermark() }} {{ or_late_machine(late) }}) and {{ column }} <= {{ read_to }}
    {%- elif read_to is not none -%}
        {{ column }} <= {{ read_to }}
    {%- else -%}
        true
    {%- endif -%}
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
