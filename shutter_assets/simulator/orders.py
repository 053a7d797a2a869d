"""The legacy order book: generated from a seed, then written into MySQL/MariaDB ``db_commandes``.

``build_order_book`` is pure (no server), so the log generator can reference the very orders the
database will hold; ``load_orders`` creates the database if missing, applies ``init.sql`` inside it
and upserts every row with explicit ids and explicit ``date_maj`` values, which makes a re-run on
the same database idempotent: rows of the same seed are rewritten to identical values and
``date_maj`` does not move. A database that already holds different orders under the same ids or
numbers is refused rather than silently mixed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from shutter_assets.lib.connections import MySQLSettings
from shutter_assets.simulator.plant import PRODUCTS, Product, order_numbers, program

INIT_SQL = Path(__file__).with_name("init.sql")
DEFAULT_ORDERS = 400
DEFAULT_START = date(2026, 11, 20)
# What MySQL returns for a zero date depends on the driver; the book keeps the literal.
ZERO_DATE = "0000-00-00"

STATUTS = ["BROUILLON", "VALIDEE", "EN_PRODUCTION", "EXPEDIEE", "LIVREE", "ANNULEE"]
STATUT_WEIGHTS = [8, 15, 25, 10, 35, 7]
# Orders the plant is making or has just made: the only ones the machine logs reference.
PRODUCED_STATUTS = ("EN_PRODUCTION", "EXPEDIEE")

COMPANY_KINDS = [
    "Menuiserie",
    "Fermetures",
    "Stores et Volets",
    "Habitat",
    "Bâtiment",
    "Rénovation",
    "Miroiterie",
    "Ouvertures",
]
COMPANY_NAMES = [
    "Lefèvre",
    "Bréhat",
    "du Léman",
    "Côte d'Émeraude",
    "Garçon Frères",
    "Mercier",
    "des Cévennes",
    "Lemaître",
    "Dubois-Héraud",
    "Fontaine",
    "Saint-Gobain Pose",
    "Aubépine",
    "Chênelière",
    "Noël & Fils",
    "Rivière",
    "Bérard",
]
COMPANY_FORMS = ["SARL", "SAS", "EURL", "SA", ""]
TOWNS = [
    ("Besançon", "25000"),
    ("Nîmes", "30000"),
    ("Orléans", "45000"),
    ("Évreux", "27000"),
    ("Saint-Étienne", "42000"),
    ("Béziers", "34500"),
    ("Angoulême", "16000"),
    ("Châlons-en-Champagne", "51000"),
    ("Clermont-Ferrand", "63000"),
    ("Lyon", "69003"),
    ("Nantes", "44000"),
    ("Périgueux", "24000"),
    ("Montbéliard", "25200"),
    ("Sète", "34200"),
    ("Mâcon", "71000"),
    ("Créteil", "94000"),
]
COLORIS = [
    "Blanc",
    "Gris anthracite",
    "Beige",
    "Chêne doré",
    "Noir sablé",
    "RAL 7016",
    "Ivoire",
    "Marron",
]
COMMENTS = [
    "Livraison sur chantier, prévenir 48 h avant",
    "Client pressé; livrer avant le 15",
    "Coloris spécial à confirmer — attente BAT",
    "Remise 5 % accordée par M. Rousseau",
    "Pose prévue semaine 49 ; ne pas décaler",
    "Acompte reçu : 1 200,00 €",
    "Commande passée par téléphone",
]


@dataclass(frozen=True)
class Client:
    id_client: int
    raison_sociale: str
    ville: str
    code_postal: str
    email: str | None
    date_creation: datetime
    date_maj: datetime


@dataclass(frozen=True)
class Commande:
    id_commande: int
    numero: str
    id_client: int
    date_commande: datetime
    date_livraison_prevue: date | str | None  # ZERO_DATE for the ERP's '0000-00-00'
    statut: str
    montant_ht: Decimal
    commentaire: str | None
    date_maj: datetime


@dataclass(frozen=True)
class LigneCommande:
    id_ligne: int
    id_commande: int
    id_produit: int
    largeur_mm: int
    hauteur_mm: int
    coloris: str
    quantite: int
    prix_unitaire: Decimal
    date_maj: datetime


@dataclass
class OrderBook:
    """Every row the simulator writes to ``db_commandes``; ``date_maj`` values are UTC."""

    clients: list[Client]
    produits: list[Product]
    commandes: list[Commande]
    lignes: list[LigneCommande]
    _programs: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def numeros(self) -> list[str]:
        return [c.numero for c in self.commandes]

    def produced_orders(self) -> list[Commande]:
        """Orders the machine logs may reference (being made or just shipped)."""
        return [c for c in self.commandes if c.statut in PRODUCED_STATUTS]

    def assembly_program(self, numero: str) -> str:
        """The AS program (= product reference) the assembly line runs for this order."""
        return self._programs[numero]


@dataclass
class OrdersTruth:
    """What ``load_orders`` wrote: row counts per table as the tests must find them."""

    database: str
    row_counts: dict[str, int]
    numeros: list[str]
    zero_date_numeros: list[str]
    produced_numeros: list[str]
    book: OrderBook


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _slug(text: str) -> str:
    table = str.maketrans("àâäçéèêëîïôöûüùÉÈÊÂÎÔ", "aaaceeeeiioouuuEEEAIO")
    out = "".join(ch if ch.isalnum() else "-" for ch in text.translate(table).lower())
    return "-".join(part for part in out.split("-") if part)


def _clients(rng: random.Random, n: int, start: date) -> list[Client]:
    clients: list[Client] = []
    seen: set[str] = set()
    ref = datetime.combine(start, time(0, 0))
    while len(clients) < n:
        name = f"{rng.choice(COMPANY_KINDS)} {rng.choice(COMPANY_NAMES)}"
        form = rng.choice(COMPANY_FORMS)
        raison = f"{name} {form}".strip()
        if raison in seen:
            raison = f"{raison} {len(clients) + 1}"
        seen.add(raison)
        ville, cp = rng.choice(TOWNS)
        created = ref - timedelta(days=rng.randint(200, 3500), seconds=rng.randint(0, 86_399))
        updated = created + timedelta(seconds=rng.randint(0, int((ref - created).total_seconds())))
        email = None if rng.random() < 0.1 else f"contact@{_slug(name)}.fr"
        clients.append(Client(len(clients) + 1, raison, ville, cp, email, created, updated))
    return clients


def build_order_book(
    seed: int, n_orders: int = DEFAULT_ORDERS, start: date = DEFAULT_START
) -> OrderBook:
    """The order book for ``seed``: ``n_orders`` orders numbered ``order_numbers(seed, n)``.

    Orders are placed in the 120 days before ``start`` (the first production day of the logs);
    every ``statut``, ``type_lame`` and ``motorisation`` value occurs, a few orders carry the zero
    date ``'0000-00-00'`` as delivery date, and at least one order is being produced.
    """
    if n_orders < 6:
        raise ValueError("the order book needs at least 6 orders to hold every statut")
    rng = random.Random(f"orders:{seed}:{n_orders}:{start.isoformat()}")
    numeros = order_numbers(seed, n_orders, year=start.year)
    clients = _clients(rng, max(8, n_orders // 5), start)
    ref = datetime.combine(start, time(0, 0))
    active = [p for p in PRODUCTS if p.actif]
    inactive = [p for p in PRODUCTS if not p.actif]

    statuts = list(STATUTS)
    rng.shuffle(statuts)
    statuts += rng.choices(STATUTS, weights=STATUT_WEIGHTS, k=n_orders - len(STATUTS))

    commandes: list[Commande] = []
    lignes: list[LigneCommande] = []
    programs: dict[str, str] = {}
    for index, (numero, statut) in enumerate(zip(numeros, statuts, strict=True)):
        id_commande = index + 1
        # Numbers increase with time: spread the orders over the 120 days, in number order.
        day_offset = 120 - (index * 119) // max(1, n_orders - 1)
        placed = datetime.combine(
            start - timedelta(days=day_offset), time(rng.randint(8, 17), rng.randint(0, 59))
        ) + timedelta(seconds=rng.randint(0, 59))
        delivery: date | str | None = placed.date() + timedelta(days=rng.randint(14, 42))
        if statut == "BROUILLON" and rng.random() < 0.6:
            delivery = ZERO_DATE
        elif statut == "ANNULEE" and rng.random() < 0.3:
            delivery = None
        n_lines = rng.choice([1, 1, 2, 2, 3, 4])
        total = Decimal("0.00")
        first_program = None
        for _ in range(n_lines):
            if statut == "LIVREE" and rng.random() < 0.1:
                product = rng.choice(inactive)
            else:
                product = rng.choice(active)
                first_program = first_program or product.reference
            width = rng.randrange(600, 3010, 10)
            height = rng.randrange(500, 2610, 10)
            surface = Decimal(width * height) / Decimal(1_000_000)
            unit = _money(max(Decimal("1.2"), surface) * product.prix_m2)
            qty = rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 8, 12])
            total += unit * qty
            line_updated = placed + timedelta(seconds=rng.randint(0, 3 * 86_400))
            lignes.append(
                LigneCommande(
                    len(lignes) + 1,
                    id_commande,
                    product.id_produit,
                    width,
                    height,
                    rng.choice(COLORIS),
                    qty,
                    unit,
                    min(line_updated, ref),
                )
            )
        programs[numero] = first_program or rng.choice(active).reference
        updated = placed + timedelta(seconds=rng.randint(0, int((ref - placed).total_seconds())))
        comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
        commandes.append(
            Commande(
                id_commande,
                numero,
                rng.randint(1, len(clients)),
                placed,
                delivery,
                statut,
                _money(total),
                comment,
                updated,
            )
        )
    if not any(c.date_livraison_prevue == ZERO_DATE for c in commandes):
        c = next(c for c in commandes if c.statut not in PRODUCED_STATUTS)
        commandes[commandes.index(c)] = Commande(
            c.id_commande,
            c.numero,
            c.id_client,
            c.date_commande,
            ZERO_DATE,
            c.statut,
            c.montant_ht,
            c.commentaire,
            c.date_maj,
        )
    for numero in programs:
        program(programs[numero])  # every assembly program exists in the plant's reference data
    return OrderBook(clients, list(PRODUCTS), commandes, lignes, programs)


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
            existing = dict(cur.fetchall())
            wanted = {c.id_commande: c.numero for c in book.commandes}
            by_numero = {v: k for k, v in existing.items()}
            clash = [
                (i, n)
                for i, n in wanted.items()
                if (i in existing and existing[i] != n) or by_numero.get(n, i) != i
            ]
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
