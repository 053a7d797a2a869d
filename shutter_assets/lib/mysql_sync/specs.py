"""Which legacy tables we mirror and how each one is read: the one place that declares it.

A table with a change-tracking column (``date_maj``, ``TIMESTAMP ON UPDATE CURRENT_TIMESTAMP``) is
read incrementally from its high-water mark; a table without one (``produits``) is small and read
whole every run. The Dagster assets, the schedule and ``sync_tables`` all iterate this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from shutter_assets.lib.settings import bounded

TARGET_SCHEMA = "raw_commandes"
STATE_TABLE = "_sync_state"
SYNCED_AT = "_synced_at"
DELETED_AT = "_deleted_at"
ROW_HASH = "_row_hash"  # the source row's content hash, computed by MySQL at extract time


@dataclass(frozen=True)
class TableSpec:
    """One source table of ``db_commandes``.

    ``cursor_column`` is the column whose value grows on every insert and update; ``None`` means
    full refresh (every run reads the whole table and deletes are exact).
    """

    name: str
    cursor_column: str | None
    description: str = ""

    @property
    def strategy(self) -> str:
        return "incremental" if self.cursor_column else "full_refresh"


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("clients", "date_maj", "Customers of the plant (latin1 at the source)."),
    TableSpec("produits", None, "Product catalogue; no date_maj at the source, so full refresh."),
    TableSpec("commandes", "date_maj", "Customer orders; links to production by numero."),
    TableSpec(
        "lignes_commande",
        "date_maj",
        "Order lines; hard-deleted at the source when an order is edited.",
    ),
)

SPECS_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_SPECS}


@dataclass(frozen=True)
class SyncOptions:
    """Tuning knobs; the Dagster resource fills them from ``LEGACY_ORDERS_*`` variables.

    - ``overlap_s``: each incremental read starts this many seconds before the stored high-water
      mark, so rows committed late with an older ``date_maj`` (a long ERP transaction) are not
      missed. Re-read rows that did not change are neither inserted nor updated.
    - ``reconcile_interval_s``: every incremental run reconciles the table with the source
      (``reconcile.py``, per bucket of keys): the count and key sum of every bucket at every run
      (index only, so deletes and inserts of any date are found by the next run) and the content
      hash of a slice of the buckets proportional to the time since the previous run, so **every
      bucket's keys and content are compared at least once per this many seconds** and a change
      that ``date_maj`` does not reveal reaches the mirror within it plus at most one schedule
      period (docs/legacy_orders.md, "The bound"); 0 = the content of every bucket at every run.
      Shorter costs proportionally more hashing per run.
    - ``workers``: parallel primary-key ranges for a full read of a large table.
    - ``parallel_min_rows``: below this (estimated) size a full read uses one stream.
    - ``fetch_rows``: rows fetched per round trip from the server-side cursor; bounds memory.
    - ``reconcile_bucket``: width of the primary-key ranges compared by count, key sum and
      content hash; a bucket that differs is re-read whole.
    """

    overlap_s: int = bounded(600, lo=0)
    reconcile_interval_s: int = bounded(7_200, lo=0)
    workers: int = bounded(2, lo=1)
    parallel_min_rows: int = bounded(200_000, lo=0)
    fetch_rows: int = bounded(5_000, lo=1)
    reconcile_bucket: int = 1_000
