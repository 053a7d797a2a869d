"""Legacy orders as the field delivers them (issue 10, items 8-12; DESIGN.md section 5).

Each test puts one kind of legacy reality into a real MariaDB database, syncs it into a real
PostgreSQL database and checks the exact rows, the per-column counts in the result (the
materialization metadata) and, at the end, the whole mirror against the source row by row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.lib.mysql_sync import sync_tables
from shutter_assets.lib.mysql_sync.snapshot import Snapshot, read_source_table
from shutter_assets.lib.mysql_sync.specs import SPECS_BY_NAME
from shutter_assets.lib.mysql_sync.typemap import row_hash_expression
from tests.fixtures.dbt_data.runner import dbt
from tests.fixtures.legacy_orders import (
    assert_mirror_equals_source,
    mirror_table,
    mysql_exec,
    mysql_rows,
    pg_value,
)

pytestmark = pytest.mark.integration


def invalid_dates_session(settings: MySQLSettings, statements: list[str]) -> None:
    """What an ERP running under ALLOW_INVALID_DATES writes."""
    mysql_exec(settings, ["SET SESSION sql_mode = 'ALLOW_INVALID_DATES'", *statements])


# ------------------------------------------------------------------------------------------------
# item 8: dates that do not exist


def test_dates_that_do_not_exist_land_as_null_counted_per_column_and_the_table_syncs(
    legacy, pg_settings
):
    mysql_exec(legacy, ["ALTER TABLE commandes ADD COLUMN date_validation TIMESTAMP NULL"])
    invalid_dates_session(
        legacy,
        [
            # DATE, DATETIME and TIMESTAMP members; 2024 is a leap year, 2025 is not
            "UPDATE commandes SET date_livraison_prevue = '2026-02-31',"
            " date_commande = '2026-04-31 10:00:00', date_validation = '0000-00-00 00:00:00'"
            " WHERE id_commande = 1",
            "UPDATE commandes SET date_livraison_prevue = '2025-02-29',"
            " date_commande = '2024-02-29 23:59:59', date_validation = '2026-01-05 10:00:00'"
            " WHERE id_commande = 2",
            "UPDATE commandes SET date_livraison_prevue = '2026-00-10' WHERE id_commande = 3",
            "UPDATE clients SET date_creation = '2026-06-31 08:00:00' WHERE id_client = 3",
        ],
    )
    first = sync_tables(legacy, pg_settings, ["commandes", "clients"])
    # seed(): orders 7, 14, 21, 28, 35 have a zero delivery date; client 2 a zero creation date
    assert first["commandes"].invalid_dates == {
        "date_commande": 1,
        "date_livraison_prevue": 3 + 5,
        "date_validation": 1,
    }
    assert first["clients"].invalid_dates == {"date_creation": 2}
    assert first["commandes"].inserted == 40
    rows = mirror_table(
        pg_settings,
        "commandes",
        ["id_commande", "date_livraison_prevue", "date_commande", "date_validation"],
    )
    assert rows[:3] == [
        (1, None, None, None),
        (2, None, datetime(2024, 2, 29, 23, 59, 59), datetime(2026, 1, 5, 10, tzinfo=UTC)),
        (3, None, datetime(2026, 1, 4, 10, 15), None),
    ]
    assert mirror_table(pg_settings, "clients", ["date_creation"]) == [
        (datetime(2019, 3, 31, 2, 30),),
        (None,),
        (None,),
    ]

    # an incremental run counts the values of the rows it read (1, and 2-3 in the overlap)
    mysql_exec(
        legacy,
        ["UPDATE commandes SET statut = 'LIVREE' WHERE id_commande = 1"],
    )
    second = sync_tables(legacy, pg_settings, ["commandes"])["commandes"]
    assert (second.mode, second.updated) == ("incremental", 1)
    assert second.invalid_dates == {
        "date_commande": 1,
        "date_livraison_prevue": 3,
        "date_validation": 1,
    }
    assert_mirror_equals_source(legacy, pg_settings, "commandes")
    assert_mirror_equals_source(legacy, pg_settings, "clients")


# ------------------------------------------------------------------------------------------------
# item 1, MySQL member: NUL bytes in text


def test_nul_bytes_in_every_text_column_are_removed_and_counted(legacy, pg_settings):
    NUL = "CHAR(0 USING utf8mb4)"
    mysql_exec(
        legacy,
        [
            "ALTER TABLE clients ADD COLUMN note_courte TINYTEXT, ADD COLUMN dossier LONGTEXT",
            # latin1 VARCHAR, CHAR, TINYTEXT and LONGTEXT (clients), utf8mb4 TEXT (commandes)
            f"UPDATE clients SET raison_sociale = CONCAT('Hélène', {NUL}, ' SARL'),"
            f" code_postal = CONCAT('25', {NUL}, '00'), note_courte = CONCAT({NUL}, 'x'),"
            f" dossier = CONCAT('a', {NUL}, {NUL}, 'b\\tc') WHERE id_client = 1",
            f"UPDATE commandes SET commentaire = CONCAT('côté', {NUL}, 'cour\\\\')"
            " WHERE id_commande = 4",
        ],
    )
    results = sync_tables(legacy, pg_settings, ["clients", "commandes"])
    assert results["clients"].nul_bytes_removed == {
        "code_postal": 1,
        "dossier": 1,
        "note_courte": 1,
        "raison_sociale": 1,
    }
    assert results["commandes"].nul_bytes_removed == {"commentaire": 1}
    assert mirror_table(
        pg_settings, "clients", ["raison_sociale", "code_postal", "note_courte", "dossier"]
    )[0] == ("Hélène SARL", "2500", "x", "ab\tc")
    assert mirror_table(pg_settings, "commandes", ["commentaire"])[3] == ("côtécour\\",)
    assert_mirror_equals_source(legacy, pg_settings, "clients")
    assert_mirror_equals_source(legacy, pg_settings, "commandes")


# ------------------------------------------------------------------------------------------------
# item 9: every column type


ADDED_TYPES = (
    "ADD COLUMN code_uuid UUID, ADD COLUMN ip INET6, ADD COLUMN zone GEOMETRY,"
    " ADD COLUMN site POINT, ADD COLUMN drapeaux BIT(10), ADD COLUMN masque BIT(64),"
    " ADD COLUMN actif_bit BIT(1), ADD COLUMN options SET('web','tel'), ADD COLUMN meta JSON,"
    " ADD COLUMN compteur BIGINT UNSIGNED, ADD COLUMN petit TINYINT UNSIGNED,"
    " ADD COLUMN moyen SMALLINT UNSIGNED, ADD COLUMN m3 MEDIUMINT UNSIGNED,"
    " ADD COLUMN grand INT UNSIGNED, ADD COLUMN signe BIGINT, ADD COLUMN exact DECIMAL(65,30),"
    " ADD COLUMN duree TIME(6), ADD COLUMN annee YEAR, ADD COLUMN ratio FLOAT,"
    " ADD COLUMN empreinte VARBINARY(8), ADD COLUMN photo MEDIUMBLOB, ADD COLUMN vu DATETIME(6),"
    " ADD COLUMN horodatage TIMESTAMP(6) NULL"
)

EVERY_TYPE_VALUES = (
    "UPDATE clients SET raison_sociale = 'Müller & Fils', date_maj = '2026-03-01',"
    " code_uuid = '123e4567-e89b-12d3-a456-426614174000', ip = '2001:db8::1',"
    " zone = ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4326),"
    " site = POINT(2.35, 48.85), drapeaux = b'1010101010', masque = ~0,"
    " actif_bit = 1, options = 'web,tel', meta = '{\"b\": [1, 2], \"a\": null}',"
    " compteur = 18446744073709551615, petit = 255, moyen = 65535, m3 = 16777215,"
    " grand = 4294967295, signe = -9223372036854775808,"
    " exact = 12345678901234567890123456789012345.123456789012345678901234567891,"
    " duree = '-838:59:58.999999', annee = 2155, ratio = 0.5,"
    " empreinte = x'00FF00', photo = x'89504E470D0A1A0A00',"
    " vu = '2026-11-20 06:00:03.250000', horodatage = '2038-01-19 03:14:07.999999'"
    " WHERE id_client = 1"
)


def test_every_mysql_column_type_lands_losslessly_and_the_table_keeps_syncing(legacy, pg_settings):
    sync_tables(legacy, pg_settings, ["clients"])
    # the ERP vendor adds columns of every kind, and a customer is renamed meanwhile
    mysql_exec(
        legacy,
        [
            f"ALTER TABLE clients {ADDED_TYPES}",
            EVERY_TYPE_VALUES,
        ],
    )
    result = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert result.mode == "full"  # new columns: every old row gets its values
    assert result.updated == 1  # rows 2 and 3 hold NULL in every new column, as the mirror does
    assert result.type_fallbacks == {
        "site": "point has no PostgreSQL twin: stored as bytea (SRID + WKB, as held)",
        "zone": "geometry has no PostgreSQL twin: stored as bytea (SRID + WKB, as held)",
    }
    types = dict(
        pg_value(
            pg_settings,
            "select array_agg(array[attname::text, format_type(atttypid, atttypmod)])"
            " from pg_attribute where attrelid = 'raw_commandes.clients'::regclass"
            " and attnum > 0",
        )
    )
    assert {k: types[k] for k in ("code_uuid", "ip", "zone", "drapeaux", "masque")} == {
        "code_uuid": "uuid",
        "ip": "inet",
        "zone": "bytea",
        "drapeaux": "bit(10)",
        "masque": "bit(64)",
    }
    assert {k: types[k] for k in ("compteur", "petit", "moyen", "m3", "grand", "meta")} == {
        "compteur": "numeric(20,0)",
        "petit": "smallint",
        "moyen": "integer",
        "m3": "integer",
        "grand": "bigint",
        "meta": "text",
    }
    row = mirror_table(
        pg_settings,
        "clients",
        ["raison_sociale", "code_uuid", "ip", "drapeaux", "masque", "actif_bit", "compteur"],
    )[0]
    assert row == (
        "Müller & Fils",
        "123e4567-e89b-12d3-a456-426614174000",
        "2001:db8::1",
        "1010101010",
        "1" * 64,
        True,
        Decimal("18446744073709551615"),
    )
    row = mirror_table(pg_settings, "clients", ["signe", "exact", "duree", "annee", "horodatage"])[
        0
    ]
    assert row == (
        -9223372036854775808,
        Decimal("12345678901234567890123456789012345.123456789012345678901234567891"),
        -timedelta(hours=838, minutes=59, seconds=58, microseconds=999999),
        2155,
        datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC),
    )
    # the spatial values are MySQL's own bytes: SRID (little-endian) then WKB
    zone = pg_value(pg_settings, "select zone from raw_commandes.clients where id_client = 1")
    assert bytes(zone)[:4] == (4326).to_bytes(4, "little")
    assert_mirror_equals_source(legacy, pg_settings, "clients")


# one other value for every column of clients after ADDED_TYPES and EVERY_TYPE_VALUES (row 1)
OTHER_VALUES = {
    "raison_sociale": "'Muller & Fils'",
    "ville": "'Ville changée'",
    "code_postal": "'99999'",
    "email": "'autre@example.org'",
    "date_creation": "'2001-02-03 04:05:06'",
    "date_maj": "'2026-03-02'",
    "code_uuid": "'123e4567-e89b-12d3-a456-426614174001'",
    "ip": "'2001:db8::2'",
    "zone": "ST_GeomFromText('POLYGON((0 0,2 0,2 2,0 0))', 4326)",
    "site": "POINT(2.35, 48.86)",
    "drapeaux": "b'1010101011'",
    "masque": "0",
    "actif_bit": "0",
    "options": "'web'",
    "meta": '\'{"b": [1, 3], "a": null}\'',
    "compteur": "18446744073709551614",
    "petit": "254",
    "moyen": "65534",
    "m3": "16777214",
    "grand": "4294967294",
    "signe": "-9223372036854775807",
    "exact": "12345678901234567890123456789012345.123456789012345678901234567892",
    "duree": "'-838:59:58.999998'",
    "annee": "2154",
    "ratio": "0.25",
    "empreinte": "x'00FF01'",
    "photo": "x'89504E470D0A1A0A01'",
    "vu": "'2026-11-20 06:00:03.250001'",
    "horodatage": "'2038-01-19 03:14:07.999998'",
}


def reconcile_hashes(settings: MySQLSettings) -> dict[int, int]:
    """``clients``' row hashes as the reconcile has MySQL compute them (same expression, same
    snapshot session)."""
    with Snapshot(settings) as my:
        table = read_source_table(my, SPECS_BY_NAME["clients"])
        expression = row_hash_expression(list(table.columns))
        return {int(k): int(h) for k, h in my.query(f"SELECT id_client, {expression} FROM clients")}


def test_the_stored_row_hash_is_the_reconciles_for_every_column_type_and_any_change_moves_it(
    legacy, pg_settings
):
    mysql_exec(legacy, [f"ALTER TABLE clients {ADDED_TYPES}", EVERY_TYPE_VALUES])
    sync_tables(legacy, pg_settings, ["clients"])
    stored = dict(mirror_table(pg_settings, "clients", ["id_client", "_row_hash"]))
    assert stored == reconcile_hashes(legacy)  # row 1: every type; rows 2, 3: NULL in most
    columns = [r[0] for r in mysql_rows(legacy, "SHOW COLUMNS FROM clients")]
    assert sorted(OTHER_VALUES) == sorted(c for c in columns if c != "id_client")

    seen = {stored[1]}
    for column, value in OTHER_VALUES.items():  # one column changed at a time, cumulatively
        mysql_exec(legacy, [f"UPDATE clients SET {column} = {value} WHERE id_client = 1"])
        moved = reconcile_hashes(legacy)[1]
        assert moved not in seen, column
        seen.add(moved)
    result = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert result.updated == 1
    stored = dict(mirror_table(pg_settings, "clients", ["id_client", "_row_hash"]))
    assert stored == reconcile_hashes(legacy)
    assert stored[1] in seen
    assert_mirror_equals_source(legacy, pg_settings, "clients")


# ------------------------------------------------------------------------------------------------
# item 10: TINYINT(1) is an integer in raw, staging interprets it, a dbt test warns


def test_tinyint_1_keeps_its_integer_and_staging_reads_nonzero_as_active_with_a_warning(
    legacy, pg_settings, tmp_path
):
    mysql_exec(legacy, ["UPDATE produits SET actif = 2 WHERE id_produit = 1",
                        "UPDATE produits SET actif = -1 WHERE id_produit = 2"])  # fmt: skip
    sync_tables(legacy, pg_settings, ["produits"])
    assert mirror_table(pg_settings, "produits", ["id_produit", "actif"]) == [
        (1, 2),
        (2, -1),
        (3, 0),
        (4, 1),
    ]
    dbt(pg_settings, tmp_path, "run", "--select", "stg_commandes__produits")
    assert pg_value(
        pg_settings,
        "select array_agg(array[product_id::text, is_active::text] order by product_id)"
        " from staging.stg_commandes__produits",
    ) == [["1", "true"], ["2", "true"], ["3", "false"], ["4", "true"]]
    statuses = dbt(pg_settings, tmp_path, "test", "--select", "source:raw_commandes.produits")
    flag_tests = {k: v for k, v in statuses.items() if "actif" in k}
    assert list(flag_tests.values()) == ["warn"], statuses

    mysql_exec(legacy, ["UPDATE produits SET actif = 1 WHERE id_produit IN (1, 2)"])
    sync_tables(legacy, pg_settings, ["produits"])
    statuses = dbt(pg_settings, tmp_path, "test", "--select", "source:raw_commandes.produits")
    assert [v for k, v in statuses.items() if "actif" in k] == ["pass"]
    assert_mirror_equals_source(legacy, pg_settings, "produits")


def test_a_mirror_of_the_old_boolean_contract_is_retyped_even_under_a_view(legacy, pg_settings):
    """Upgrade path: actif was mirrored as boolean and a (dbt) view reads it."""
    sync_tables(legacy, pg_settings, ["produits"])
    with pg_settings.connect() as conn:
        conn.execute("alter table raw_commandes.produits alter actif type boolean using actif <> 0")
        conn.execute("create schema staging")
        conn.execute(
            "create view staging.v as select id_produit, actif from raw_commandes.produits"
        )
    mysql_exec(legacy, ["UPDATE produits SET actif = 2 WHERE id_produit = 1"])
    result = sync_tables(legacy, pg_settings, ["produits"])["produits"]
    assert result.retyped_columns == ["actif: boolean -> smallint"]
    assert result.dropped_views == ["staging.v"]
    assert mirror_table(pg_settings, "produits", ["actif"]) == [(2,), (1,), (0,), (1,)]
    assert_mirror_equals_source(legacy, pg_settings, "produits")


# ------------------------------------------------------------------------------------------------
# item 11: a renamed primary key


def test_renamed_primary_key_rebuilds_the_mirror_by_a_full_read_with_the_reason(
    legacy, pg_settings
):
    sync_tables(legacy, pg_settings, ["clients"])
    mysql_exec(
        legacy,
        [
            "ALTER TABLE clients CHANGE id_client id_cli INT NOT NULL AUTO_INCREMENT",
            "UPDATE clients SET ville = 'Dijon', date_maj = date_maj WHERE id_cli = 2",
            "DELETE FROM clients WHERE id_cli = 3",
        ],
    )
    result = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert result.mode == "full"
    assert result.full_read_reason == (
        "primary key changed at the source: (id_client) -> (id_cli); "
        "the mirror is rebuilt by a full read"
    )
    assert (result.inserted, result.rows_read) == (2, 2)
    assert result.new_columns == ["id_cli"]
    assert result.dropped_columns == ["id_client"]
    assert (
        pg_value(
            pg_settings,
            "select pg_get_constraintdef(oid) from pg_constraint"
            " where conrelid = 'raw_commandes.clients'::regclass and contype = 'p'",
        )
        == "PRIMARY KEY (id_cli)"
    )
    assert mirror_table(
        pg_settings, "clients", ["id_cli", "id_client", "ville"], live_only=False, pk="id_cli"
    ) == [(1, None, "Besançon"), (2, None, "Dijon")]
    assert_mirror_equals_source(legacy, pg_settings, "clients", pk="id_cli")

    # the next run is incremental again; renaming an ordinary column still works as before
    mysql_exec(legacy, ["ALTER TABLE clients CHANGE ville localite VARCHAR(80)"])
    again = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert (again.new_columns, again.dropped_columns) == (["localite"], ["id_client", "ville"])
    assert again.mode == "full" and again.full_read_reason.startswith("schema drift")
    assert_mirror_equals_source(legacy, pg_settings, "clients", pk="id_cli")
    quiet = sync_tables(legacy, pg_settings, ["clients"])["clients"]
    assert (quiet.mode, quiet.inserted, quiet.updated, quiet.deleted) == ("incremental", 0, 0, 0)


# ------------------------------------------------------------------------------------------------
# item 12: deletes on every run by default


def test_hard_deletes_are_found_on_the_next_run_with_default_settings(legacy, pg_settings):
    sync_tables(legacy, pg_settings, ["lignes_commande"])
    mysql_exec(
        legacy,
        [  # an order edited in the ERP: its lines deleted, one line re-created
            "DELETE FROM lignes_commande WHERE id_commande = 5",
            "INSERT INTO lignes_commande (id_ligne, id_commande, id_produit, quantite, date_maj)"
            " VALUES (900, 5, 2, 4, '2026-03-02 09:00:00')",
        ],
    )
    result = sync_tables(legacy, pg_settings, ["lignes_commande"])["lignes_commande"]
    assert (result.inserted, result.deleted, result.reconciled) == (1, 3, True)
    deleted = pg_value(
        pg_settings,
        "select array_agg(id_ligne order by id_ligne) from raw_commandes.lignes_commande"
        " where _deleted_at is not null",
    )
    assert deleted == [13, 14, 15]
    assert_mirror_equals_source(legacy, pg_settings, "lignes_commande")
