{#-
    How far each incremental log model has read (issue 11's review). Several log models combine
    the rows of two or more incremental parents (int_machine_downtime: state intervals and alarms;
    int_production_counts_shift: intervals and badges; int_changeovers: cycles and segments) and
    never go back to rows they combined. A parent that lags the files its sibling has read (a
    `dbt run --select` without it, a run of one branch only) would make such a model combine new
    rows with stale ones for good. So every incremental intermediate model records, after each
    build, the file_id up to which it has read: bounds_watermark() (no log model reads past it,
    macros/late_files.sql), in `intermediate.log_model_progress`; and a model one of whose
    incremental ancestors has not read as far reads nothing new on an incremental build (it
    catches up on the next build whose ancestors have) and refuses a full build with a clear
    error. A Dagster retry of the failed models only is not held back: the ancestors the first
    attempt built have read as far as the bounds model.
-#}

{% macro log_progress_relation() -%}
    {{- return(api.Relation.create(database=target.database,
                                   schema=generate_schema_name('intermediate', none),
                                   identifier='log_model_progress')) -}}
{%- endmacro %}

{#- on-run-start (one thread, before any model): the bookkeeping table. -#}
{% macro create_log_progress() -%}
    {%- set progress = log_progress_relation() -%}
    create schema if not exists {{ adapter.quote(progress.schema) }};
    create table if not exists {{ progress }} (
        model_name text primary key,
        read_to bigint not null,
        recorded_at timestamptz not null default now()
    )
{%- endmacro %}

{#- Whether the table exists (a query: dbt's relation cache does not see what hooks create). -#}
{% macro log_progress_exists() -%}
    {%- set progress = log_progress_relation() -%}
    {%- set name = adapter.quote(progress.schema) ~ '.' ~ adapter.quote(progress.identifier) -%}
    {%- set result = run_query("select to_regclass('" ~ name ~ "') is not null") -%}
    {{- return(result.columns[0].values()[0]) -}}
{%- endmacro %}

{#- The incremental models the current one reads, directly or through others (bounds excepted). -#}
{% macro incremental_log_ancestors() -%}
    {%- set ancestors = [] -%}
    {%- set queue = [model.unique_id] -%}
    {#- breadth first: the loop sees the ids appended to `queue` while it runs -#}
    {%- for node_id in queue -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- for parent_id in (node.depends_on.nodes if node is not none else []) -%}
            {%- if parent_id.startswith('model.') and parent_id not in queue -%}
                {%- do queue.append(parent_id) -%}
                {%- set parent = graph.nodes.get(parent_id) -%}
                {%- if parent is not none
                    and parent.config.materialized == 'incremental'
                    and parent.name != 'int_file_event_bounds' -%}
                    {%- do ancestors.append(parent.name) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(ancestors) -}}
{%- endmacro %}

{#- The incremental ancestors that have not read up to bounds_watermark() (never recorded
    counts as behind). Empty when not executing or when the model has none. -#}
{% macro lagging_log_ancestors() -%}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set ancestors = incremental_log_ancestors() -%}
    {%- if not ancestors -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set progress = log_progress_relation() -%}
    {%- if not log_progress_exists() -%}
        {{- return(ancestors) -}}
    {%- endif -%}
    {%- set read_to = bounds_watermark() or 0 -%}
    {%- set query -%}
        select model_name
        from {{ progress }}
        where model_name in ({% for a in ancestors %}'{{ a }}'{{ ", " if not loop.last }}{% endfor %})
          and read_to >= {{ read_to }}
    {%- endset -%}
    {%- set current = run_query(query).columns[0].values() | list -%}
    {{- return(ancestors | reject('in', current) | list) -}}
{%- endmacro %}

{#- Full builds: an ancestor behind would be combined for good; say what to run instead. -#}
{% macro refuse_full_build_behind_ancestors() -%}
    {%- if execute and not is_incremental() -%}
        {%- set behind = lagging_log_ancestors() -%}
        {%- if behind -%}
            {{- exceptions.raise_compiler_error(
                model.name ~ ": its incremental parents " ~ (behind | join(', '))
                ~ " have not read the files int_file_event_bounds recorded; build it with them: "
                ~ "dbt run --full-refresh --select +" ~ model.name) -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of every incremental intermediate model: record how far it has read. -#}
{% macro record_log_progress() -%}
    {%- if execute and model.config.materialized == 'incremental'
        and model.name != 'int_file_event_bounds' and log_progress_exists() -%}
        {%- set behind = lagging_log_ancestors() -%}
        {%- if behind -%}
            {%- do log(model.name ~ ": nothing new read, its parents " ~ (behind | join(', '))
                       ~ " are behind; it catches up with them (dbt run --select +"
                       ~ model.name ~ ")", info=true) -%}
        {%- else -%}
            insert into {{ log_progress_relation() }} (model_name, read_to)
            values ('{{ model.name }}', {{ bounds_watermark() or 0 }})
            on conflict (model_name) do update
            set read_to = excluded.read_to, recorded_at = now()
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
