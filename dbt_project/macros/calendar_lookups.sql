{#-
    The two attributions every shift-level model makes of an instant (DESIGN.md s.6), in one
    place: as `left join lateral` clauses to append after a `from` whose rows carry the instant.

    shift_instance_at: the shift instance containing `instant` (start <= instant < end), as
    `<alias>.shift_code`, `.shift_date`, `.started_at`; NULLs outside every shift.

    badge_at: the machine's latest OPERATOR badge read at or before `instant` within the same
    shift instance (read at or after `shift_started_at`), as `<alias>.operator_badge`; NULL when
    there is none (unassigned) or outside every shift.
-#}
{% macro shift_instance_at(instant, alias='shifts') -%}
    left join lateral (
        select
            instances.shift_code,
            instances.shift_date,
            instances.started_at
        from {{ ref('int_shift_instances') }} as instances
        where instances.started_at <= {{ instant }}
          -- a shift lasts less than a day and a DST hour: bounds the backward index scan
          and instances.started_at > {{ instant }} - interval '26 hours'
          and instances.ended_at > {{ instant }}
        order by instances.started_at desc
        limit 1
    ) as {{ alias }} on true
{%- endmacro %}

{% macro badge_at(machine_id, instant, shift_started_at, alias='badge') -%}
    left join lateral (
        select badges.operator_badge
        from {{ ref('int_operator_badges') }} as badges
        where badges.machine_id = {{ machine_id }}
          and badges.badged_at <= {{ instant }}
          and badges.badged_at >= {{ shift_started_at }}
        order by badges.badged_at desc, badges.file_id desc, badges.line_no desc
        limit 1
    ) as {{ alias }} on true
{%- endmacro %}


{#-
    in_planned_window: whether the machine's merged planned-downtime windows contain `instant`.
    Merged windows are disjoint, so only the latest one starting at or before `instant` can:
    one index probe, however long windows are.
-#}
{% macro in_planned_window(machine_id, instant) -%}
    coalesce((
        select windows.window_ended_at > {{ instant }}
        from {{ ref('int_planned_downtime_windows') }} as windows
        where windows.machine_id = {{ machine_id }}
          and windows.window_started_at <= {{ instant }}
        order by windows.window_started_at desc
        limit 1
    ), false)
{%- endmacro %}
