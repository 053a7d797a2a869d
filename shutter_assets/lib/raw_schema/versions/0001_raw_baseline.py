"""Baseline: the raw tables as the pre-Alembic loader created them.

Every statement is ``if not exists`` (and ``comment on`` is idempotent), so on a warehouse that
the old ``create table if not exists`` DDL already built this revision changes nothing and only
records the version: that is how an existing warehouse adopts the migrations.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BASELINE_DDL = """
create schema if not exists raw;
create table if not exists raw.ingested_files (
    file_id bigint generated always as identity primary key,
    path text not null,
    size_bytes bigint not null,
    mtime timestamptz,
    sha256 text not null,
    status text not null check (status in ('loaded', 'duplicate', 'rejected')),
    duplicate_of bigint null references raw.ingested_files,
    encoding text,
    line_count int,
    event_count int,
    reject_count int,
    error text,
    run_id text,
    ingested_at timestamptz not null default now()
);
create unique index if not exists ingested_files_sha256_uniq
    on raw.ingested_files (sha256) where status <> 'duplicate';
create index if not exists ingested_files_path_idx
    on raw.ingested_files (path, size_bytes, mtime);
create table if not exists raw.machine_events (
    file_id bigint not null references raw.ingested_files,
    line_no int not null,
    machine_id text not null,
    event_type text not null,
    event_local_ts timestamp(3) not null,
    event_at timestamptz not null,
    order_ref text,
    program text,
    value_text text,
    value_num numeric,
    message text,
    primary key (file_id, line_no)
);
create table if not exists raw.machine_event_rejects (
    file_id bigint not null references raw.ingested_files,
    line_no int not null,
    raw_line text not null,
    reason text not null,
    primary key (file_id, line_no)
);
comment on table raw.ingested_files is
    'One row per log file content ingested from the drop (loaded, duplicate or rejected whole).';
comment on table raw.machine_events is
    'One row per accepted machine log line, keyed by (file_id, line_no).';
comment on table raw.machine_event_rejects is
    'Log lines that broke the format contract, with their raw text and the reason.';
"""


def upgrade() -> None:
    # Driver-level execution: several statements in one text, no bind-parameter parsing.
    op.get_bind().exec_driver_sql(BASELINE_DDL)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(
        "drop table raw.machine_event_rejects; drop table raw.machine_events; "
        "drop table raw.ingested_files"
    )
