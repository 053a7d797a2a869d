{#-
    One row per ALARM event: raised at `raised_at`, ended by the next ALARM_CLEAR of the same code
    on the same machine (`cleared_at`), or by a repeat of the same ALARM while still active (the
    repeat then opens its own row), or still active (`is_open`, no end yet).

    Incremental: new ALARM / ALARM_CLEAR events are paired together with the machine's alarms
    still open after the previous run, so an alarm raised in one file and cleared in a later one
    gets its true duration. A late file (events before ones already read, a new version) makes
    its machine rebuilt whole (macros/late_files.sql).
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        post_hook="{{ analyze_if_new(['machine_id', 'alarm_code']) }}",
        indexes=[
            {'columns': ['file_id', 'line_no'], 'unique': true},
            {'columns': ['machine_id', 'raised_at']},
            {'columns': ['machine_id', 'is_open']},
            {'columns': ['batch_file_id']},
        ],
    )
}}

{% set late = late_machine_ids() %}

with

new_events as (

    select
        machine_id,
        file_id,
        line_no,
        event_type,
        event_at,
        upper(value_text) as alarm_code,
        message
    from {{ ref('stg_raw__machine_events') }}
    where event_type in ('ALARM', 'ALARM_CLEAR')
      and {{ unread_or_late(late) }}

),

batch as (

    select max(file_id) as batch_file_id
    from new_events

),

alarm_events as (

    select * from new_events
    {% if is_incremental() %}
    union all
    select
        known.machine_id,
        known.file_id,
        known.line_no,
        'ALARM' as event_type,
        known.raised_at as event_at,
        known.alarm_code,
        known.alarm_message as message
    from {{ this }} as known
    where known.is_open
      and known.machine_id in (select machine_id from new_events)
    {% endif %}

),

paired as (

    select
        machine_id,
        file_id,
        line_no,
        event_type,
        alarm_code,
        message,
        event_at,
        lead(event_type) over by_code as next_event_type,
        lead(event_at) over by_code as next_event_at
    from alarm_events
    window by_code as (partition by machine_id, alarm_code order by event_at, file_id, line_no)

),

final as (

    select
        paired.machine_id,
        paired.file_id,
        paired.line_no,
        paired.alarm_code,
        paired.message as alarm_message,
        paired.event_at as raised_at,
        paired.next_event_at as ended_at,
        case when paired.next_event_type = 'ALARM_CLEAR' then paired.next_event_at end as cleared_at,
        {{ seconds_between('paired.event_at', 'paired.next_event_at') }} as duration_s,
        paired.next_event_at is null as is_open,
        {{ local_date('paired.event_at') }} as production_date,
        batch.batch_file_id
    from paired
    cross join batch
    where paired.event_type = 'ALARM'

)

select * from final
