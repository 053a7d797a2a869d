with

files as (

    select
        file_id,
        path,
        size_bytes,
        mtime,
        sha256,
        status,
        duplicate_of,
        encoding,
        line_count,
        event_count,
        reject_count,
        error,
        run_id,
        ingested_at,
        superseded_by,
        superseded_at
    from {{ source('raw', 'ingested_files') }}

),

final as (

    select
        file_id,
        path as file_path,
        size_bytes,
        mtime as file_modified_at,
        sha256,
        status as file_status,
        duplicate_of as duplicate_of_file_id,
        encoding,
        line_count,
        event_count,
        reject_count,
        error as error_message,
        run_id,
        ingested_at,
        superseded_by as superseded_by_file_id,
        superseded_at
    from files

)

select * from final
