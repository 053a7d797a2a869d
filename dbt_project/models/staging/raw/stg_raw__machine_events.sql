with

events as (

    select
        file_id,
        line_no,
        machine_id,
        event_type,
        event_local_ts,
        event_at,
        order_ref,
        program,
        value_text,
        value_num,
        message
    from {{ source('raw', 'machine_events') }}

),

loaded_files as (

    select file_id
    from {{ source('raw', 'ingested_files') }}
    where status = 'loaded'

),

final as (

    select
        events.file_id,
        events.line_no,
        events.machine_id,
        upper(events.event_type) as event_type,
        events.event_local_ts as event_local_at,
        events.event_at,
        nullif(trim(events.order_ref), '') as order_ref,
        nullif(trim(events.program), '') as program,
        nullif(trim(events.value_text), '') as value_text,
        events.value_num,
        nullif(events.message, '') as message
    from events
    inner join loaded_files on events.file_id = loaded_files.file_id

)

select * from final
