with

rejects as (

    select
        file_id,
        line_no,
        raw_line,
        reason
    from {{ source('raw', 'machine_event_rejects') }}

),

final as (

    select
        file_id,
        line_no,
        raw_line,
        reason as reject_reason
    from rejects

)

select * from final
