{#-
    One row per CYCLE_START: the cycle ends at the machine's next CYCLE_END (`ended_at`, with the
    parts it produced); a CYCLE_START followed by another CYCLE_START is `abandoned`; a cycle with
    no end yet is `open`. `cycle_s` is true elapsed seconds.

    Incremental: new cycle events are paired together with the machine's cycles still open after
    the previous run, so a cycle started at the end of one file and ended in the next is complete.
    A late file (its CYCLE_START before a CYCLE_END already read, a new version) makes its machine
    paired again whole (macros/late_files.sql).
-#}
{{
    config(
        pre_hook="{{ delete_superseded_rows() }}",
        indexes=[
            {'columns': ['file_id', 'line_no'], 'unique': true},
            {'columns': ['machine_id', 'cycle_status']},
            {'columns': ['machine_id', 'ended_at']},
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
        order_ref,
        program,
        value_num
    from {{ ref('stg_raw__machine_events') }}
    where event_type in ('CYCLE_START', 'CYCLE_END')
      and {{ unread_or_late(late) }}

),

batch as (

    select max(file_id) as batch_file_id
    from new_events

),

cycle_events as (

    select * from new_events
    {% if is_incremental() %}
    union all
    select
        known.machine_id,
        known.file_id,
        known.line_no,
        'CYCLE_START' as event_type,
        known.started_at as event_at,
        known.order_ref,
        known.program,
        null::numeric as value_num
    from {{ this }} as known
    where known.cycle_status = 'open'
      and known.machine_id in (select machine_id from new_events)
    {% endif %}

),

paired as (

    select
        machine_id,
        file_id,
        line_no,
        event_type,
        event_at,
        order_ref,
        program,
        lead(event_type) over by_time as next_event_type,
        lead(event_at) over by_time as next_event_at,
        lead(value_num) over by_time as next_value_num
    from cycle_events
    window by_time as (partition by machine_id order by event_at, file_id, line_no)

),

final as (

    select
        paired.machine_id,
        paired.file_id,
        paired.line_no,
        paired.order_ref,
        paired.program,
        paired.event_at as started_at,
        case when paired.next_event_type = 'CYCLE_END' then paired.next_event_at end as ended_at,
        case
            when paired.next_event_type = 'CYCLE_END' then 'completed'
            when paired.next_event_type = 'CYCLE_START' then 'abandoned'
            else 'open'
        end as cycle_status,
        case when paired.next_event_type = 'CYCLE_END' then paired.next_value_num end
            as produced_qty,
        case when paired.next_event_type = 'CYCLE_END'
            then {{ seconds_between('paired.event_at', 'paired.next_event_at') }}
        end as cycle_s,
        {{ local_date('paired.event_at') }} as production_date,
        batch.batch_file_id
    from paired
    cross join batch
    where paired.event_type = 'CYCLE_START'

)

select * from final
