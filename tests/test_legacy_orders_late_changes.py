"""Every committed change reaches the mirror, whatever its ``date_maj`` says (issue 16).

The members of the kind: a transaction that commits after the high-water mark moved past its rows
(shorter than the overlap window, or longer), a writer that sets ``date_maj`` itself or leaves it
unchanged, client clocks behind or ahead of the server's, an edit that keeps a bucket's count and
key sum (values swapped between rows, keys deleted and others inserted), hard deletes and inserts
dated in the past. The reconcile (``reconcile.py``) finds them: keys at the next run, contents
within ``reconcile_interval_s``. Two real MariaDB sessions where the case needs them; time is
shifted (``SET timestamp`` at the source, the stored time of the last run in ``_sync_state``),
never slept. Each test ends with a full mirror == source comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pymysql
import pytest

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.mysql_sync import SyncOptions, sync_tables
from tests.fixtures.legacy_orders import (
    assert_mirror_equals_source,
    mirror_table,
    mysql_exec,
    pg_value,
)

pytestmark = pytest.mark.integration

INTERVAL_S = SyncOptions().reconcile_interval_s  # the bound on hidden content changes


def open_session(settings: MySQLSettings, shift_s: int = 0) -> pymysql.connections.Connection:
    """An ERP session with its own transaction; ``shift_s`` moves its clock (``SET timestamp``)."""
    conn = settings.connect(autocommit=False)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        if shift_s:
            cur.execute("SET SESSION timestamp = UNIX_TIMESTAMP() + %s", (shift_s,))
    return conn


def run(conn: pymysql.connections.Connection, statement: str) -> None:
    with conn.cursor() as cur:
        cur.execute(statement)


def age_last_run(pg: PostgresSettings, table: str, seconds: int) -> None:
    """Pretend the previous run (and reconcile) was ``seconds`` earlier (instead of sleeping)."""
    with pg.connect() as conn:
        conn.execute(
            "update raw_commandes._sync_state set last_synced_at = last_synced_at"
            " - make_interval(secs => %s) where table_name = %s",
            (seconds, table),
        )


def test_the_issue_case_a_late_commit_reaches_the_mirror_with_a_one_second_overlap(
    legacy, pg_settings
):
    quick = SyncOptions(overlap_s=1)
    sync_tables(legacy, pg_settings, ["clients"], quick)
    session_a = open_session(legacy, shift_s=-3)  # its UPDATE ran 3 s before B's
    session_b = open_session(legacy)
    try:
        run(session_a, "UPDATE clients SET ville = 'LATE-COMMIT' WHERE id_client = 1")
        run(session_b, "UPDATE clients SET ville = 'Arras' WHERE id_client = 2")
        session_b.commit()
        during = sync_tables(legacy, pg_settings, ["clients"], quick)["clients"]
        assert during.updated == 1  # client 2; client 1 is not committed yet
        session_a.commit()
    finally:
        session_a.close()
        session_b.close()
    # three clients are one bucket: every run compares its content, so the next run finds it
    after = sync_tables(legacy, pg_settings, ["clients"], quick)["clients"]
    assert (after.updated, after.reconcile_changes) == (1, 1)  # found by the reconcile
    assert mirror_table(pg_settings, "clients", ["ville"])[:2] == [("LATE-COMMIT",), ("Arras",)]
    quiet = sync_tables(legacy, pg_settings, ["clients"], quick)["clients"]
    assert (quiet.updated, quiet.reconcile_changes, quiet.reread_keys) == (0, 0, [])
    assert_mirror_equals_source(legacy, pg_settings, "clients")


def test_row_hashes_at_extract_and_at_check_agree_so_nothing_is_reread(legacy, pg_settings):
    """Every legacy value of the seed (latin1, zero dates, NULLs, odd text, TIMESTAMP) hashes the
    same when extracted and when compared: a reconcile of every bucket re-reads nothing."""
    every_bucket = SyncOptions(reconcile_interval_s=0)
    tables = ["clients", "commandes", "lignes_commande"]
    sync_tables(legacy, pg_settings, tables, every_bucket)
    again = sync_tables(legacy, pg_settings, tables, every_bucket)
    for name in tables:
        assert again[name].content_checked_keys, name  # the content was compared
        assert (again[name].reread_keys, again[name].reconcile_changes) == ([], 0), name
        assert_mirror_equals_source(legacy, pg_settings, name)


def spread_keys(settings: MySQLSettings) -> None:
    """Order lines with keys up to 90,000, so the table is 91 buckets of 1,000 keys."""
    values = ", ".join(f"({k}, 1, 1, 2, '2026-01-20 08:00:00')" for k in range(1000, 90_001, 1000))
    mysql_exec(
        settings,
        [
            "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, quantite, date_maj)"
            f" VALUES {values}"
        ],
    )


def test_a_transaction_open_longer_than_the_default_overlap_reaches_the_mirror_within_the_interval(
    legacy, pg_settings
):
    spread_keys(legacy)
    options = SyncOptions(reconcile_bucket=1000)  # default overlap (600 s) and interval
    sync_tables(legacy, pg_settings, ["lignes_commande"], options)
    long_tx = open_session(legacy, shift_s=-2 * 3600)  # opened two hours ago
    try:
        run(long_tx, "UPDATE lignes_commande SET quantite = 99 WHERE id_ligne = 80000")
        mysql_exec(legacy, ["UPDATE lignes_commande SET quantite = 5 WHERE id_ligne = 1"])
        during = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
        assert during.updated == 1
        long_tx.commit()
    finally:
        long_tx.close()

    # a run right after compares the content of the next bucket only: 80000 is not in it
    soon = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
    assert soon.updated == 0
    assert len(soon.content_checked_keys) == 1
    assert not soon.content_checked_keys[0][0] <= 80000 <= soon.content_checked_keys[0][1]
    # one interval later every bucket's content has been compared
    age_last_run(pg_settings, "lignes_commande", INTERVAL_S)
    later = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
    assert (later.updated, later.reconcile_changes) == (1, 1)
    assert later.reread_keys == [(80000, 80999)]  # the one bucket that differed, re-read
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")


@pytest.mark.parametrize(
    ("session_shift_s", "statements", "aged", "changes"),
    [
        # a writer that sets date_maj itself, to an old value
        (0, ["UPDATE lignes_commande SET quantite = 7, date_maj = '2020-01-01'"
             " WHERE id_ligne = 85000"], True, (0, 1, 0)),
        # a writer that leaves date_maj as it was
        (0, ["UPDATE lignes_commande SET quantite = 8, date_maj = date_maj"
             " WHERE id_ligne = 85000"], True, (0, 1, 0)),
        # a client whose clock is a day behind the server's
        (-86_400, ["UPDATE lignes_commande SET quantite = 9 WHERE id_ligne = 85000"], True,
         (0, 1, 0)),
        # values swapped between two rows (same lengths: CRC32's linearity would hide it from
        # a plain XOR of hashes), count and key sum unchanged
        (0, ["UPDATE lignes_commande a JOIN lignes_commande b ON a.id_ligne = 1"
             " AND b.id_ligne = 2 SET a.quantite = b.quantite, b.quantite = a.quantite,"
             " a.date_maj = a.date_maj, b.date_maj = b.date_maj"], True, (0, 2, 0)),
        # two keys deleted and two others inserted in their bucket with the same key sum
        # (119 + 120 = -1 + 240), dated in the past
        (-86_400, ["DELETE FROM lignes_commande WHERE id_ligne IN (119, 120)",
                   "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, quantite)"
                   " VALUES (-1, 2, 1, 3), (240, 2, 1, 3)"], True, (2, 0, 2)),
        # an insert dated a day back: the key summaries differ, the next run finds it
        (-86_400, ["INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, quantite)"
                   " VALUES (85001, 2, 1, 3)"], False, (1, 0, 0)),
        # a hard delete: the next run finds it
        (0, ["DELETE FROM lignes_commande WHERE id_ligne = 85000"], False, (0, 0, 1)),
    ],
    ids=[
        "date_maj_set_old", "date_maj_unchanged", "clock_behind", "values_swapped",
        "keys_replaced_same_sum", "insert_dated_back", "hard_delete",
    ],
)  # fmt: skip
def test_changes_that_date_maj_hides_reach_the_mirror_within_the_interval(
    legacy, pg_settings, session_shift_s, statements, aged, changes
):
    spread_keys(legacy)
    options = SyncOptions(reconcile_bucket=1000)
    sync_tables(legacy, pg_settings, ["lignes_commande"], options)
    # an honest change first, so the high-water mark is the server's now
    mysql_exec(legacy, ["UPDATE lignes_commande SET quantite = 4 WHERE id_ligne = 3"])
    assert sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"].updated
    writer = open_session(legacy, shift_s=session_shift_s)
    try:
        for statement in statements:
            run(writer, statement)
        writer.commit()
    finally:
        writer.close()
    if aged:  # a content change: found within one interval
        age_last_run(pg_settings, "lignes_commande", INTERVAL_S)
    result = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
    assert (result.inserted, result.updated, result.deleted) == changes
    assert result.reconcile_changes == result.inserted + result.updated
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")


def test_a_clock_ahead_does_not_carry_the_high_water_mark_past_the_server_clock(
    legacy, pg_settings
):
    # date_maj alone must be enough here: the incremental read brings the changes, so the
    # reconcile that follows it (clients are one bucket: its content is compared) finds none
    sync_tables(legacy, pg_settings, ["clients"])
    ahead = open_session(legacy, shift_s=86_400)
    try:
        run(ahead, "UPDATE clients SET ville = 'Demain' WHERE id_client = 1")
        ahead.commit()
    finally:
        ahead.close()
    first = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert (first.updated, first.reconcile_changes) == (1, 0)
    dated = pg_value(pg_settings, "select date_maj from raw_commandes.clients where id_client = 1")
    assert dated > datetime.now(UTC) > first.high_water_mark
    # an honest change after it, dated by the server's clock, is read by the very next run
    mysql_exec(legacy, ["UPDATE clients SET ville = 'Aujourd''hui' WHERE id_client = 2"])
    second = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert (second.updated, second.reconcile_changes) == (1, 0)
    assert_mirror_equals_source(legacy, pg_settings, "clients")


def test_a_mirror_from_before_row_hashes_is_reread_once_and_counts_no_change(legacy, pg_settings):
    every_bucket = SyncOptions(reconcile_interval_s=0)
    sync_tables(legacy, pg_settings, ["lignes_commande"], every_bucket)
    with pg_settings.connect() as conn:  # what a warehouse synced by the previous version holds
        conn.execute("alter table raw_commandes.lignes_commande drop column _row_hash")
    upgraded = sync_tables(legacy, pg_settings, ["lignes_commande"], every_bucket)
    result = upgraded["lignes_commande"]
    assert result.full_read_reason.startswith("the mirror predates row hashes")
    assert (result.mode, result.inserted, result.updated, result.deleted) == ("full", 0, 0, 0)
    hashless = pg_value(
        pg_settings, "select count(*) from raw_commandes.lignes_commande where _row_hash is null"
    )
    assert hashless == 0
    quiet = sync_tables(legacy, pg_settings, ["lignes_commande"], every_bucket)["lignes_commande"]
    assert (quiet.mode, quiet.reread_keys, quiet.reconcile_changes) == ("incremental", [], 0)
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")
