{#-
    The instant "now" of the monitoring views: the session setting `shutter.now` when set (tests,
    replays of a past situation: `set shutter.now = '2026-11-20 10:00+00'`), else the database's
    now(). Views compute it at query time, so a silence shows without a rebuild.
-#}
{% macro monitoring_now() -%}
    coalesce(nullif(current_setting('shutter.now', true), '')::timestamptz, now())
{%- endmacro %}

{#-
    Seconds without any event after which a machine that is not OFF is silent (docs/operations.md):
    the dbt var wins, else the ALERT_SILENT_MACHINE_S env var, else one hour.
-#}
{% macro silent_machine_after_s() -%}
    {%- set s = var('silent_machine_after_s', none) or env_var('ALERT_SILENT_MACHINE_S', '3600') -%}
    {{- return(s | int) -}}
{%- endmacro %}
