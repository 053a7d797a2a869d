{#-
    The span of each loaded file's events per machine: the bookkeeping by which every incremental
    log model recognises a late file (macros/late_files.sql). Grain: one row per (file_id,
    machine_id). Kept for superseded versions too (no delete_superseded_rows), so a replaced
    version still names the machine whose history changed, even when its new version holds no
    accepted line.

    A registered file with no event (a header-only version, a rejected or duplicate one) gets one
    row with a null machine_id and null span: bounds_watermark() must reach its file_id, or the
    version it superseded stays "current" for the late check (superseded_by > bounds_watermark())
    until some later file with events is loaded, while delete_superseded_rows() has already
    deleted its rows (tests/test_dbt_late_files_review.py).

    A full refresh keeps the superseded versions' rows of the table it replaces (their events are
    gone from raw, so they cannot be recomputed): a log model that has not yet caught up with a
    new version still finds the machine of the version it read (rule 2 of late_machine_ids).
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

{%- set existing = none -%}
{%- if execute and not is_incremental() -%}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
{%- endif %}

with

spans as (

    select
        machine_id,
        file_id,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from {{ ref('stg_raw__machine_events') }}
    {% if is_incremental() %}
    where file_id > {{ incremental_watermark() }}
    {% endif %}
    group by machine_id, file_id

),

eventless as (

    select
        cast(null as text) as machine_id,
        files.file_id,
        cast(null as timestamptz) as first_event_at,
        cast(null as timestamptz) as last_event_at
    from {{ source('raw', 'ingested_files') }} as files
    where files.status in ('loaded', 'rejected', 'duplicate')
      {% if is_incremental() %}
      and files.file_id > {{ incremental_watermark() }}
      {% endif %}
      and not exists (
          select
          from {{ ref('stg_raw__machine_events') }} as events
          where events.file_id = files.file_id
      )

),

{% if existing is not none %}
kept as (

    -- full refresh: the superseded versions' spans (their raw events are deleted)
    select
        kept.machine_id,
        kept.file_id,
        kept.first_event_at,
        kept.last_event_at
    from {{ existing }} as kept
    inner join {{ source('raw', 'ingested_files') }} as files on kept.file_id = files.file_id
    where files.status = 'superseded'
      and kept.machine_id is not null

),
{% endif %}

final as (

    select * from spans
    union all
    select * from eventless
    {% if existing is not none %}
    union all
    select * from kept
    {% endif %}

)

select
    machine_id,
    file_id,
    first_event_at,
    last_event_at,
    file_id as batch_file_id
from final
