{#-
    The machine-state rule (DESIGN.md s.4, `STATE` events), written once for the history
    (int_machine_state_intervals) and the live view (machine_status): a STATE event puts its
    machine in the state upper(value_text) from its event_at on, until the machine's next STATE
    event; a machine's events are ordered by (event_at, file_id, line_no), so of two events at the
    same instant the one of the later file, then of the later line, comes last.

    state_events(events): the STATE events of `events` (a relation or CTE with the columns of
    stg_raw__machine_events), as machine_id, file_id, line_no, state, event_at.

    event_order(at, descending): that order as an `order by` list, `at` naming the event's
    instant column; descending puts a machine's latest event first.
-#}
{% macro state_events(events) -%}
    select
        machine_id,
        file_id,
        line_no,
        upper(value_text) as state,
        event_at
    from {{ events }}
    where event_type = 'STATE'
{%- endmacro %}

{% macro event_order(at='event_at', descending=false) -%}
    {%- set direction = ' desc' if descending else '' -%}
    {{ at }}{{ direction }}, file_id{{ direction }}, line_no{{ direction }}
{%- endmacro %}
