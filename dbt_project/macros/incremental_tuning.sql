{#-
    Planner hygiene for the incremental models, hooked in dbt_project.yml / model configs.
    Neither changes a result.

    incremental_session_settings (pre-hook of every intermediate model): an incremental run reads
    one batch, but the planner's estimates for the batch CTEs are far too high, so PostgreSQL
    JIT-compiles (inlining and optimizing) nearly every query: 1-2 s of compilation for a query
    that then runs in a few hundred milliseconds. `set local` turns JIT off for this model's
    transaction only; full builds, which scan the whole history, keep it.

    analyze_if_new (post-hook): a table dbt has just (re)created has no statistics until
    autovacuum gets to it (never, where autovacuum is off). Analyze the given columns of it then
    (only then: one sample of the rebuilt table, not one per incremental run). Used where a plan
    needs them: int_machine_state_daily's non-unique (file_id, line_no) key, without which the
    delete of the replaced pieces scans the whole table instead of probing the index; the
    (machine_id, alarm_code) groups downtime_pareto aggregates (hash aggregate instead of sorts
    spilling to disk). batch_file_id is deliberately left without statistics: after a full build
    it holds a single value, and the tests' `batch_file_id = (select max(...))` filters would be
    planned as whole-table scans.
-#}
{% macro incremental_session_settings() -%}
    {%- if is_incremental() -%}
        set local jit = off
    {%- endif -%}
{%- endmacro %}

{% macro analyze_if_new(columns, relation=this) -%}
    {%- set name = relation.include(database=false) | string -%}
    do $analyze$
    begin
        if not exists (
            select from pg_catalog.pg_statistic where starelid = '{{ name }}'::regclass
        ) then
            analyze {{ name }} ({{ columns | join(', ') }});
        end if;
    end
    $analyze$
{%- endmacro %}
