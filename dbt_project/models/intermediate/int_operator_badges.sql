{#-
    OPERATOR events (badge reads), one row per event: from `badged_at` on, the machine's time and
    cycles go to `operator_badge` until its next badge read or the end of the shift instance
    (DESIGN.md s.6, operators). Incremental: events of new files are appended by key.
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        indexes=[
            {'columns': ['file_id', 'line_no'], 'unique': true},
            {'columns': ['machine_id', 'badged_at']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set late = late_machine_ids() %}

with

new_badges as (

    select
        machine_id,
        file_id,
        line_no,
        event_at,
        value_text
    from {{ ref('stg_raw__machine_events') }}
    where event_type = 'OPERATOR'
      and value_text is not null
      and {{ unread_or_late(late) }}

),

final as (

    select
        machine_id,
        file_id,
        line_no,
        event_at as badged_at,
        value_text as operator_badge,
        max(file_id) over () as batch_file_id
    from new_badges

)

select * from final
