"""One current version per path: later versions supersede earlier ones, history kept.

DESIGN.md section 4: a file whose content changes after it was loaded (an upload that stalled and
resumed, a re-export under the same name) replaces the rows of its earlier version. The registry
keeps the earlier row as ``superseded`` with ``superseded_by`` / ``superseded_at``; a partial unique
index holds one non-superseded row per path. Content identity (``sha256``) is now unique among
``loaded`` and ``rejected`` rows only, so a path may return to an earlier content.

A warehouse loaded before this revision may hold several current rows for one path (the bug this
fixes): all but the newest become ``superseded`` by it and lose their events and rejects, so the
lines are counted once. (Rebuild dbt's intermediate models with ``--full-refresh`` after it; the
models' pre-hook removes superseded files' rows on later incremental builds.)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
alter table raw.ingested_files drop constraint if exists ingested_files_status_check;
alter table raw.ingested_files add constraint ingested_files_status_check
    check (status in ('loaded', 'duplicate', 'rejected', 'superseded'));
alter table raw.ingested_files
    add column if not exists superseded_by bigint null references raw.ingested_files,
    add column if not exists superseded_at timestamptz null;

with ranked as (
    select file_id, path, max(file_id) over (partition by path) as newest
    from raw.ingested_files
)
update raw.ingested_files as f
set status = 'superseded', superseded_by = ranked.newest, superseded_at = now()
from ranked
where f.file_id = ranked.file_id and ranked.file_id <> ranked.newest;
delete from raw.machine_events
where file_id in (select file_id from raw.ingested_files where status = 'superseded');
delete from raw.machine_event_rejects
where file_id in (select file_id from raw.ingested_files where status = 'superseded');

drop index if exists raw.ingested_files_sha256_uniq;
create unique index ingested_files_sha256_uniq
    on raw.ingested_files (sha256) where status in ('loaded', 'rejected');
create unique index ingested_files_current_path_uniq
    on raw.ingested_files (path) where status <> 'superseded';
comment on column raw.ingested_files.superseded_by is
    'The later version of the same path whose rows replaced this one''s (status superseded).';
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(
        "drop index raw.ingested_files_current_path_uniq; "
        "drop index raw.ingested_files_sha256_uniq; "
        "create unique index ingested_files_sha256_uniq on raw.ingested_files (sha256) "
        "where status <> 'duplicate'; "
        "alter table raw.ingested_files drop column superseded_at, drop column superseded_by; "
        "alter table raw.ingested_files drop constraint ingested_files_status_check; "
        "alter table raw.ingested_files add constraint ingested_files_status_check "
        "check (status in ('loaded', 'duplicate', 'rejected'))"
    )
