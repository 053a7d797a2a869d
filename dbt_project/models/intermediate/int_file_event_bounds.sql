{#-
    The span of each loaded file's events per machine: the bookkeeping by which every incremental
    log model recognises a late file (macros/late_files.sql). Grain: one row per (file_id,
    machine_id). Kept for superseded versions too (no delete_superseded_rows), so a replaced
    version still names the machine whose history changed, even when its new version holds no
    accepted line.
-#}
{{
    config(
        unique_key=['file_id', 'machine_id'],
        indexes=[
            {'columns': ['file_id', 'machine_id'], 'unique': true},
            {'columns': ['machine_id', 'last_event_at']},
        ],
    )
}}

select
    machine_id,
    file_id,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at,
    file_id as batch_file_id
from {{ ref('stg_raw__machine_events') }}
{% if is_incremental() %}
where file_id > {{ incremental_watermark() }}
{% endif %}
group by machine_id, file_id
