"""Legacy orders sync on real MariaDB and PostgreSQL: exact mirror, deletes, drift, faults.

Every comparison reads the source independently (pymysql's own type conversion, a UTC session)
and compares it row by row with the mirror, so a mapping or escaping mistake shows up as a diff.
"""

from __future__ import annotations

import socket
import threading
import tracemalloc
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pymysql
import pytest

from shutter_assets.lib.connections import MySQLSettings, PostgresSettings
from shutter_assets.lib.mysql_sync import (
    TABLE_SPECS,
    LegacySyncError,
    SyncOptions,
    read_state,
    snapshot,
    sync_tables,
)
from tests.fixtures.concurrency import run_concurrently
from tests.fixtures.databases import server_mysql
from tests.fixtures.legacy_orders import (
    apply_init_sql,
    assert_mirror_equals_source,
    checksums,
    mirror_table,
    mysql_exec,
    mysql_rows,
    pg_value,
)
from tests.fixtures.tcp_proxy import close_both

pytestmark = pytest.mark.integration

EVERY_RUN = SyncOptions(reconcile_interval_s=0, overlap_s=600)


# ------------------------------------------------------------------------------------------------
# the scenario


def test_second_sync_after_updates_inserts_at_hwm_deletes_drift_and_legacy_values_is_exact(
    legacy: MySQLSettings, pg_settings: PostgresSettings
):
    first = sync_tables(legacy, pg_settings, options=EVERY_RUN)
    assert {t: r.mode for t, r in first.items()} == {s.name: "initial" for s in TABLE_SPECS}
    assert first["lignes_commande"].inserted == 120
    for spec in TABLE_SPECS:
        assert_mirror_equals_source(legacy, pg_settings, spec.name)
    hwm = read_state(pg_settings, "lignes_commande")["high_water_mark"]
    assert hwm == datetime(2026, 1, 28, 12, 0, tzinfo=UTC)
    assert read_state(pg_settings, "produits")["high_water_mark"] is None

    before = checksums(legacy)
    mysql_exec(
        legacy,
        [
            # updates: ON UPDATE CURRENT_TIMESTAMP moves date_maj past the high-water mark
            "UPDATE lignes_commande SET quantite = quantite + 10, date_maj = '2026-03-01 00:00:00'"
            " WHERE id_ligne IN (4, 5, 6)",
            "UPDATE commandes SET statut = 'EN_PRODUCTION', date_maj = '2026-03-01 00:00:00'"
            " WHERE id_commande = 2",
            "UPDATE clients SET ville = 'Saint-Étienne', date_maj = '2026-03-01 00:00:00'"
            " WHERE id_client = 1",
            "UPDATE produits SET prix_m2 = 44.10 WHERE id_produit = 1",
            "DELETE FROM produits WHERE id_produit = 4",
            "INSERT INTO produits VALUES (5, 'LAME-PVC-55', 'Lame PVC 55 mm', 'PVC', 'RADIO',"
            " 48.00, 1)",
            # inserts whose date_maj equals the previous high-water mark (the boundary)
            "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, largeur_mm,"
            " hauteur_mm, coloris, quantite, prix_unitaire, date_maj) VALUES"
            " (500, 1, 2, 800, 1300, 'GRIS', 2, 61.00, '2026-01-28 12:00:00'),"
            " (501, 1, 3, 900, 1400, 'IVOIRE', 1, 79.90, '2026-01-28 12:00:00')",
            "INSERT INTO commandes (id_commande, numero, id_client, date_commande,"
            " date_livraison_prevue, statut, montant_ht, commentaire, date_maj) VALUES"
            " (100, 'CMD-2026-000100', 2, '0000-00-00 00:00:00', '0000-00-00', 'BROUILLON',"
            " 10.00, 'crème brûlée', '2026-01-28 12:00:00')",
            # hard-deleted order lines (an edited order)
            "DELETE FROM lignes_commande WHERE id_commande = 3",
            "DELETE FROM lignes_commande WHERE id_ligne = 60",
            # the ERP vendor adds a column; old rows get its default at the source
            "ALTER TABLE commandes ADD COLUMN canal ENUM('WEB','TEL','SALON') NOT NULL"
            " DEFAULT 'TEL'",
            "ALTER TABLE commandes ADD COLUMN remise_pct DECIMAL(5,2) NULL",
            "UPDATE commandes SET canal = 'WEB', remise_pct = 2.50, date_maj = date_maj"
            " WHERE id_commande = 7",
            # zero dates and latin1 accents
            "INSERT INTO clients (id_client, raison_sociale, ville, code_postal, email,"
            " date_creation, date_maj) VALUES (4, 'Façades Zoé Lefèvre', 'Orléans', '45000',"
            " 'zoé@façades.fr', '0000-00-00 00:00:00', '2026-01-11 09:00:00')",
        ],
    )
    # a TIMESTAMP written by a client in another time zone is the same instant in the mirror
    mysql_exec(
        legacy,
        [
            "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, quantite, date_maj)"
            " VALUES (502, 2, 1, 1, '2026-06-01 12:00:00')"
        ],
        time_zone="+02:00",
    )

    second = sync_tables(legacy, pg_settings, options=EVERY_RUN)

    assert checksums(legacy)["lignes_commande"] != before["lignes_commande"]  # source did change
    for spec in TABLE_SPECS:
        assert_mirror_equals_source(legacy, pg_settings, spec.name)

    lines = second["lignes_commande"]
    assert lines.mode == "incremental"
    assert (lines.inserted, lines.updated, lines.deleted) == (3, 3, 4)
    assert lines.high_water_mark == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert read_state(pg_settings, "lignes_commande")["high_water_mark"] == lines.high_water_mark
    assert pg_value(
        pg_settings, "select date_maj from raw_commandes.lignes_commande where id_ligne = 502"
    ) == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    deleted = pg_value(
        pg_settings,
        "select array_agg(id_ligne order by id_ligne) from raw_commandes.lignes_commande"
        " where _deleted_at is not null",
    )
    assert deleted == [7, 8, 9, 60]
    # nothing doubled: every source row once, deleted rows kept once
    assert pg_value(pg_settings, "select count(*) from raw_commandes.lignes_commande") == 120 + 3
    assert (
        pg_value(pg_settings, "select count(distinct id_ligne) from raw_commandes.lignes_commande")
        == 123
    )

    orders = second["commandes"]
    assert orders.new_columns == ["canal", "remise_pct"]
    assert orders.mode == "full"
    assert (orders.inserted, orders.updated) == (1, 40)  # the new column re-read every old row
    assert (
        pg_value(
            pg_settings,
            "select format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = 'raw_commandes.commandes'::regclass and attname = 'remise_pct'",
        )
        == "numeric(5,2)"
    )
    row = mirror_table(
        pg_settings, "commandes", ["date_commande", "date_livraison_prevue", "commentaire"]
    )[-1]
    assert row == (None, None, "crème brûlée")
    assert mirror_table(pg_settings, "commandes", ["commentaire"])[4] == (
        "Livrer côté cour\tporte 2\nappeler M. Dupré \\ urgent",
    )

    clients = second["clients"]
    assert (clients.inserted, clients.updated, clients.deleted) == (1, 1, 0)
    assert mirror_table(pg_settings, "clients", ["raison_sociale", "ville", "date_creation"])[
        -1
    ] == ("Façades Zoé Lefèvre", "Orléans", None)

    products = second["produits"]
    assert (products.mode, products.inserted, products.updated, products.deleted) == (
        "full",
        1,
        1,
        1,
    )
    assert pg_value(
        pg_settings,
        "select _deleted_at is not null from raw_commandes.produits where id_produit = 4",
    )

    # the sync only read: the source is exactly what the test left there
    after = checksums(legacy)
    third = sync_tables(legacy, pg_settings, options=EVERY_RUN)
    assert checksums(legacy) == after
    assert all(r.inserted == r.updated == r.deleted == 0 for r in third.values())
    for spec in TABLE_SPECS:
        assert_mirror_equals_source(legacy, pg_settings, spec.name)


def test_simulated_order_book_mirrors_exactly(mysql_settings, pg_settings):
    """The plant simulator's order book (engineer B's generator) round-trips row for row."""
    from shutter_assets.simulator.orders import load_orders

    truth = load_orders(mysql_settings, seed=11, n_orders=150)
    results = sync_tables(mysql_settings, pg_settings)
    for spec in TABLE_SPECS:
        assert results[spec.name].inserted == truth.row_counts[spec.name] > 0
        assert_mirror_equals_source(mysql_settings, pg_settings, spec.name)


def test_mirror_column_types_follow_the_contract(legacy, pg_settings):
    sync_tables(legacy, pg_settings)
    with pg_settings.connect() as conn:
        types = dict(
            conn.execute(
                """
                select c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod)
                from pg_attribute a join pg_class c on c.oid = a.attrelid
                join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'raw_commandes' and a.attnum > 0 and not a.attisdropped
                """
            ).fetchall()
        )
    assert types["clients.id_client"] == "integer"
    assert types["clients.code_postal"] == "text"
    assert types["clients.date_creation"] == "timestamp without time zone"
    assert types["clients.date_maj"] == "timestamp with time zone"
    assert types["produits.type_lame"] == "text"
    assert types["produits.prix_m2"] == "numeric(10,2)"
    assert types["produits.actif"] == "smallint"  # TINYINT(1) is an integer (DESIGN.md section 5)
    assert types["commandes.date_livraison_prevue"] == "date"
    assert types["commandes.commentaire"] == "text"
    assert types["commandes.montant_ht"] == "numeric(12,2)"
    assert types["lignes_commande._synced_at"] == "timestamp with time zone"
    assert types["lignes_commande._deleted_at"] == "timestamp with time zone"
    pk = pg_value(
        pg_settings,
        "select pg_get_constraintdef(oid) from pg_constraint"
        " where conrelid = 'raw_commandes.lignes_commande'::regclass and contype = 'p'",
    )
    assert pk == "PRIMARY KEY (id_ligne)"


def test_other_mysql_types_map_and_round_trip(mysql_settings, pg_settings):
    """SMALLINT, TINYINT, BIGINT, FLOAT/DOUBLE, YEAR, JSON and BLOB columns also mirror exactly."""
    apply_init_sql(mysql_settings)
    mysql_exec(
        mysql_settings,
        [
            "ALTER TABLE produits ADD COLUMN poids SMALLINT, ADD COLUMN niveau TINYINT,"
            " ADD COLUMN stock BIGINT, ADD COLUMN ratio FLOAT, ADD COLUMN coef DOUBLE,"
            " ADD COLUMN millesime YEAR, ADD COLUMN notice BLOB",
            "INSERT INTO produits VALUES (1, 'A', 'a\\\\b', 'PVC', 'MANUEL', 1.00, 2, -300, -5,"
            " 9000000000, 0.5, 1e100, 2024, x'00FF10')",
            "INSERT INTO produits (id_produit, reference) VALUES (2, 'B')",
        ],
    )
    sync_tables(mysql_settings, pg_settings, ["produits"])
    names = ["actif", "poids", "niveau", "stock", "ratio", "coef", "millesime", "notice"]
    rows = mirror_table(pg_settings, "produits", ["libelle", *names])
    assert rows[0] == ("a\\b", 2, -300, -5, 9000000000, 0.5, 1e100, 2024, b"\x00\xff\x10")
    assert rows[1] == (None, 1, None, None, None, None, None, None, None)


def test_row_deleted_then_reinserted_is_undeleted(legacy, pg_settings):
    sync_tables(legacy, pg_settings, ["lignes_commande"], EVERY_RUN)
    mysql_exec(legacy, ["DELETE FROM lignes_commande WHERE id_ligne = 10"])
    result = sync_tables(legacy, pg_settings, ["lignes_commande"], EVERY_RUN)["lignes_commande"]
    assert result.deleted == 1
    mysql_exec(
        legacy,
        [
            "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, quantite, date_maj)"
            # an old date_maj: only the reconcile can see it came back
            " VALUES (10, 4, 1, 7, '2026-01-02 00:00:00')"
        ],
    )
    result = sync_tables(legacy, pg_settings, ["lignes_commande"], EVERY_RUN)["lignes_commande"]
    assert result.undeleted == 1
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")
    assert (
        pg_value(
            pg_settings,
            "select count(*) from raw_commandes.lignes_commande where _deleted_at is not null",
        )
        == 0
    )


def test_keys_are_compared_at_every_run_whatever_the_interval(legacy, pg_settings):
    daily = SyncOptions(reconcile_interval_s=86_400)  # contents compared once a day
    sync_tables(legacy, pg_settings, ["lignes_commande"], daily)
    before = read_state(pg_settings, "lignes_commande")["last_full_reconcile"]
    mysql_exec(legacy, ["DELETE FROM lignes_commande WHERE id_ligne IN (1, 2)"])
    soon = sync_tables(legacy, pg_settings, ["lignes_commande"], daily)["lignes_commande"]
    assert (soon.reconciled, soon.deleted) == (True, 2)  # the very next run, not a day later
    assert read_state(pg_settings, "lignes_commande")["last_full_reconcile"] > before


def test_dropped_source_column_is_kept_and_reported(legacy, pg_settings):
    sync_tables(legacy, pg_settings, ["clients"])
    mysql_exec(legacy, ["ALTER TABLE clients DROP COLUMN email"])
    result = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert result.dropped_columns == ["email"]
    assert result.new_columns == []
    emails = mirror_table(pg_settings, "clients", ["email"])
    assert emails[0] == ("contact@muller.fr",)
    assert_mirror_equals_source(legacy, pg_settings, "clients")


def test_column_type_changed_at_source_is_altered_and_reread(legacy, pg_settings):
    sync_tables(legacy, pg_settings, ["lignes_commande"], EVERY_RUN)
    mysql_exec(
        legacy,
        [
            "ALTER TABLE lignes_commande MODIFY quantite BIGINT",
            "ALTER TABLE lignes_commande MODIFY coloris VARCHAR(40)",  # still text: no change
            "UPDATE lignes_commande SET quantite = 5000000000, date_maj = date_maj"
            " WHERE id_ligne = 1",
        ],
    )
    result = sync_tables(legacy, pg_settings, ["lignes_commande"], EVERY_RUN)["lignes_commande"]
    assert result.retyped_columns == ["quantite: integer -> bigint"]
    assert (result.mode, result.updated) == ("full", 1)
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")


def test_concurrent_syncs_of_one_table_serialize_and_double_nothing(legacy, pg_settings):
    def run() -> None:
        sync_tables(legacy, pg_settings, ["lignes_commande", "produits"], EVERY_RUN)

    assert run_concurrently(run, 3) == []
    assert pg_value(pg_settings, "select count(*) from raw_commandes.lignes_commande") == 120
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")
    assert_mirror_equals_source(legacy, pg_settings, "produits")


def test_parallel_primary_key_ranges_load_every_row_once(legacy, pg_settings):
    options = SyncOptions(workers=3, parallel_min_rows=1, fetch_rows=7)
    result = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
    assert result.workers == 3
    assert result.inserted == 120
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")


@pytest.mark.parametrize("limit", [1, 150, 333])  # cuts inside the first line, or later ones
def test_chunks_too_long_for_one_value_are_read_row_by_row(legacy, pg_settings, monkeypatch, limit):
    """A chunk whose lines GROUP_CONCAT cut (long rows, a server with a small
    max_allowed_packet) is read again row by row: nothing is truncated or lost."""
    monkeypatch.setattr(snapshot, "CHUNK_VALUE_MAX_BYTES", limit)
    options = SyncOptions(workers=2, parallel_min_rows=1, fetch_rows=7)
    result = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
    assert (result.workers, result.inserted) == (2, 120)
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")


def insert_many_lines(settings: MySQLSettings, count: int, first_id: int = 1000) -> None:
    for start in range(0, count, 20_000):
        values = ", ".join(
            f"({first_id + i}, {i % 40 + 1}, 1, {i}, 1000, 'ANTHRACITE-7016', 1, 12.50,"
            f" '2026-02-{i % 20 + 1:02d} 08:00:00')"
            for i in range(start, min(count, start + 20_000))
        )
        mysql_exec(
            settings,
            [
                "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, largeur_mm,"
                f" hauteur_mm, coloris, quantite, prix_unitaire, date_maj) VALUES {values}"
            ],
        )


def test_key_sums_are_exact_at_the_top_of_the_int_range(legacy, pg_settings):
    """MySQL sums an INT key's buckets in double precision (buckets.py): at keys near 2**31
    the sums still equal the mirror's exact ones, so an unchanged table re-reads nothing and one
    hard delete re-reads exactly its bucket."""
    top = 2**31 - 1
    insert_many_lines(legacy, 1500, first_id=top - 1499)
    every_bucket = SyncOptions(reconcile_interval_s=0)
    sync_tables(legacy, pg_settings, ["lignes_commande"], every_bucket)
    again = sync_tables(legacy, pg_settings, ["lignes_commande"], every_bucket)["lignes_commande"]
    assert (again.reread_keys, again.deleted) == ([], 0)
    mysql_exec(legacy, [f"DELETE FROM lignes_commande WHERE id_ligne = {top}"])
    after = sync_tables(legacy, pg_settings, ["lignes_commande"], every_bucket)["lignes_commande"]
    assert after.deleted == 1
    assert after.reread_keys == [(top // 1000 * 1000, top // 1000 * 1000 + 999)]
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")


@pytest.mark.parametrize("workers", [1, 2])
def test_memory_is_a_few_batches_not_the_table(legacy, pg_settings, workers):
    """Streaming: the Python heap peak stays far below the size of the data moved."""
    insert_many_lines(legacy, 60_000)
    options = SyncOptions(workers=workers, parallel_min_rows=1, fetch_rows=500)
    tracemalloc.start()
    try:
        result = sync_tables(legacy, pg_settings, ["lignes_commande"], options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result["lignes_commande"].inserted == 60_120
    moved = pg_value(
        pg_settings, "select sum(length(t::text)) from raw_commandes.lignes_commande t"
    )
    assert moved > 4_000_000
    assert peak < moved / 4, f"peak {peak} bytes for {moved} bytes of rows"


def test_sync_works_with_a_select_only_account(legacy, pg_settings):
    user = f"ro_{uuid.uuid4().hex[:8]}"
    admin = server_mysql()
    conn = admin.connect(database=None, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'test-only'")
            cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'test-only'")
            cur.execute(f"GRANT SELECT ON `{legacy.database}`.* TO '{user}'@'%'")
            cur.execute(f"GRANT SELECT ON `{legacy.database}`.* TO '{user}'@'localhost'")
        readonly = MySQLSettings(legacy.host, legacy.port, user, "test-only", legacy.database)
        results = sync_tables(readonly, pg_settings, options=EVERY_RUN)
        assert results["lignes_commande"].inserted == 120
        with pytest.raises(pymysql.err.OperationalError):
            bad = readonly.connect(autocommit=True)
            try:
                with bad.cursor() as cur:
                    cur.execute("DELETE FROM lignes_commande")
            finally:
                bad.close()
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
        conn.close()


def test_unknown_table_is_refused_with_the_list_of_tables(legacy, pg_settings):
    with pytest.raises(ValueError, match="lignes_commande"):
        sync_tables(legacy, pg_settings, ["factures"])


# ------------------------------------------------------------------------------------------------
# fault: the MySQL connection is cut in the middle of the extract


class CuttingProxy:
    """A TCP proxy to MySQL that cuts every connection after ``cut_after`` bytes server→client."""

    def __init__(self, upstream: tuple[str, int], cut_after: int | None) -> None:
        self.upstream, self.cut_after = upstream, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(server, client, self.cut_after), daemon=True
            ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            close_both(src, dst)

    def close(self) -> None:
        self._stop = True
        self.listener.close()


def mirror_fingerprint(pg: PostgresSettings) -> tuple:
    return (
        pg_value(
            pg,
            "select md5(string_agg(t::text, '|' order by id_ligne))"
            " from raw_commandes.lignes_commande t",
        ),
        read_state(pg, "lignes_commande")["high_water_mark"],
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_connection_cut_mid_extract_changes_nothing_and_rerun_is_exact(
    legacy, pg_settings, workers
):
    options = SyncOptions(reconcile_interval_s=0, workers=workers, parallel_min_rows=1)
    sync_tables(legacy, pg_settings, ["lignes_commande"], options)
    values = ", ".join(
        f"({1000 + i}, {i % 40 + 1}, 1, {i}, 1000, 'ANTHRACITE-7016', 1, 12.50,"
        f" '2026-02-{i % 20 + 1:02d} 08:00:00')"
        for i in range(20_000)
    )
    mysql_exec(
        legacy,
        [
            "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, largeur_mm,"
            f" hauteur_mm, coloris, quantite, prix_unitaire, date_maj) VALUES {values}",
            "UPDATE lignes_commande SET quantite = 99, date_maj = '2026-02-10 00:00:00'"
            " WHERE id_ligne <= 30",
            "DELETE FROM lignes_commande WHERE id_ligne BETWEEN 40 AND 45",
            "ALTER TABLE lignes_commande ADD COLUMN remise DECIMAL(5,2) NOT NULL DEFAULT 0",
        ],
    )
    before = mirror_fingerprint(pg_settings)
    columns_before = pg_value(
        pg_settings,
        "select count(*) from information_schema.columns"
        " where table_schema = 'raw_commandes' and table_name = 'lignes_commande'",
    )

    proxy = CuttingProxy((legacy.host, legacy.port), cut_after=300_000)
    try:
        through_proxy = MySQLSettings(
            "127.0.0.1", proxy.port, legacy.user, legacy.password, legacy.database
        )
        with pytest.raises(LegacySyncError) as failure:
            sync_tables(through_proxy, pg_settings, ["lignes_commande"], options)
    finally:
        proxy.close()
    message = str(failure.value)
    assert proxy.cuts >= 1
    assert "lignes_commande" in message and "unchanged" in message and "rerun" in message
    assert isinstance(failure.value.__cause__, pymysql.err.MySQLError)
    assert mirror_fingerprint(pg_settings) == before
    # the schema drift DDL rolled back with the rows
    assert (
        pg_value(
            pg_settings,
            "select count(*) from information_schema.columns"
            " where table_schema = 'raw_commandes' and table_name = 'lignes_commande'",
        )
        == columns_before
    )

    rerun = sync_tables(legacy, pg_settings, ["lignes_commande"], options)["lignes_commande"]
    assert rerun.new_columns == ["remise"]
    assert rerun.deleted == 6
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")
    assert rerun.high_water_mark == datetime(2026, 2, 20, 8, 0, tzinfo=UTC)
    assert read_state(pg_settings, "lignes_commande")["high_water_mark"] == rerun.high_water_mark


def test_seed_helpers_produce_the_expected_legacy_values(legacy):
    """Guard for the tests themselves: the source really holds zero dates and latin1 text."""
    rows = mysql_rows(legacy, "SELECT date_creation FROM clients WHERE id_client = 2")
    assert rows[0][0] == "0000-00-00 00:00:00"  # pymysql hands zero dates back as text
    charset = mysql_rows(
        legacy,
        "SELECT CCSA.character_set_name FROM information_schema.TABLES T"
        " JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY CCSA"
        " ON CCSA.collation_name = T.table_collation"
        " WHERE T.table_schema = DATABASE() AND T.table_name = 'clients'",
    )
    assert charset[0][0] == "latin1"
    assert mysql_rows(legacy, "SELECT ville FROM clients WHERE id_client = 1")[0][0] == "Besançon"
    assert isinstance(
        mysql_rows(legacy, "SELECT prix_m2 FROM produits WHERE id_produit = 1")[0][0], Decimal
    )
    assert mysql_rows(legacy, "SELECT date_livraison_prevue FROM commandes WHERE id_commande = 1")[
        0
    ][0] == date(2026, 2, 2)
