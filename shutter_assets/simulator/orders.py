"""The legacy order book written into MySQL/MariaDB ``db_commandes`` (built by ``order_book``).

``load_orders`` creates the database if missing, applies ``init.sql`` inside it
and upserts every row with explicit ids and explicit ``date_maj`` values, which makes a re-run on
the same database idempotent: rows of the same seed are rewritten to identical values and
``date_maj`` does not move. A database that already holds different orders under the same ids or
numbers is refused rather than silently mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.simulator.order_book import (
    DEFAULT_ORDERS,
    DEFAULT_START,
    ZERO_DATE,
    OrderBook,
    build_order_book,
)

INIT_SQL = Path(__file__).with_name("init.sql")


@dataclass
class OrdersTruth:
    """What ``load_orders`` wrote: row counts per table as the tests must find them."""

    database: str
    row_counts: dict[str, int]
    numeros: list[str]
    zero_date_numeros: list[str]
    produced_numeros: list[str]
    book: OrderBook


def init_sql_statements(path: Path = INIT_SQL) -> list[str]:
    """The statements of ``init.sql`` (comment lines dropped), to run inside the target db."""
    lines = [ln for ln in path.read_text("utf-8").splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _quote_db(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


UPSERTS: dict[str, tuple[str, list[str]]] = {
    "clients": (
        "id_client",
        ["raison_sociale", "ville", "code_postal", "email", "date_creation", "date_maj"],
    ),
    "produits": (
        "id_produit",
        ["reference", "libelle", "type_lame", "motorisation", "prix_m2", "actif"],
    ),
    "commandes": (
        "id_commande",
        [
            "numero",
            "id_client",
            "date_commande",
            "date_livraison_prevue",
            "statut",
            "montant_ht",
            "commentaire",
            "date_maj",
        ],
    ),
    "lignes_commande": (
        "id_ligne",
        [
            "id_commande",
            "id_produit",
            "largeur_mm",
            "hauteur_mm",
            "coloris",
            "quantite",
            "prix_unitaire",
            "date_maj",
        ],
    ),
}


def _upsert_sql(table: str) -> str:
    key, columns = UPSERTS[table]
    cols = [key, *columns]
    names = ", ".join(f"`{c}`" for c in cols)
    marks = ", ".join(["%s"] * len(cols))
    updates = ", ".join(f"`{c}` = values(`{c}`)" for c in columns)
    return f"insert into `{table}` ({names}) values ({marks}) on duplicate key update {updates}"


def _rows(book: OrderBook) -> dict[str, list[tuple]]:
    return {
        "clients": [
            (
                c.id_client,
                c.raison_sociale,
                c.ville,
                c.code_postal,
                c.email,
                c.date_creation,
                c.date_maj,
            )
            for c in book.clients
        ],
        "produits": [
            (p.id_produit, p.reference, p.libelle, p.type_lame, p.motorisation, p.prix_m2, p.actif)
            for p in book.produits
        ],
        "commandes": [
            (
                c.id_commande,
                c.numero,
                c.id_client,
                c.date_commande,
                c.date_livraison_prevue,
                c.statut,
                c.montant_ht,
                c.commentaire,
                c.date_maj,
            )
            for c in book.commandes
        ],
        "lignes_commande": [
            (
                lc.id_ligne,
                lc.id_commande,
                lc.id_produit,
                lc.largeur_mm,
                lc.hauteur_mm,
                lc.coloris,
                lc.quantite,
                lc.prix_unitaire,
                lc.date_maj,
            )
            for lc in book.lignes
        ],
    }


class OrdersConflictError(RuntimeError):
    """The target database already holds other orders under the simulator's ids or numbers."""


def _clashes(existing: dict[int, str], book: OrderBook) -> list[tuple[int, str]]:
    """(id_commande, numero) pairs of the book that the database pairs differently."""
    by_numero = {v: k for k, v in existing.items()}
    return [
        (c.id_commande, c.numero)
        for c in book.commandes
        if (c.id_commande in existing and existing[c.id_commande] != c.numero)
        or by_numero.get(c.numero, c.id_commande) != c.id_commande
    ]


def load_orders(
    settings: MySQLSettings,
    seed: int,
    n_orders: int = DEFAULT_ORDERS,
    start: date = DEFAULT_START,
) -> OrdersTruth:
    """Create ``settings.database`` if missing, apply ``init.sql`` in it, upsert the order book.

    Idempotent for the same seed, size and start: a second run leaves every row (``date_maj``
    included) unchanged. Refuses with ``OrdersConflictError`` when the ``commandes`` table pairs
    an id with another number than this book does (orders of another seed or size).
    """
    book = build_order_book(seed, n_orders, start)
    admin = settings.connect(database=None)
    try:
        with admin.cursor() as cur:
            cur.execute(
                f"create database if not exists {_quote_db(settings.database)} "
                "character set utf8mb4"
            )
    finally:
        admin.close()

    conn = settings.connect()
    try:
        with conn.cursor() as cur:
            # Zero dates are legacy data: MySQL 8's default sql_mode would refuse them.
            cur.execute("set session sql_mode = ''")
            for statement in init_sql_statements():
                cur.execute(statement)
            cur.execute("select id_commande, numero from commandes")
            clash = _clashes(dict(cur.fetchall()), book)
            if clash:
                i, n = clash[0]
                raise OrdersConflictError(
                    f"database {settings.database!r} already holds orders that are not those of "
                    f"seed {seed} with {n_orders} orders (e.g. id_commande {i} / {n} differ, "
                    f"{len(clash)} conflicts): drop the database or point MYSQL_DATABASE at an "
                    "empty one, then re-run"
                )
            rows = _rows(book)
            for table, table_rows in rows.items():
                cur.executemany(_upsert_sql(table), table_rows)
        conn.commit()
    finally:
        conn.close()
    return OrdersTruth(
        database=settings.database,
        row_counts={table: len(table_rows) for table, table_rows in rows.items()},
        numeros=book.numeros,
        zero_date_numeros=[
            c.numero for c in book.commandes if c.date_livraison_prevue == ZERO_DATE
        ],
        produced_numeros=[c.numero for c in book.produced_orders()],
        book=book,
    )
