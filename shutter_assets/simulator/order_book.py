"""The legacy order book, generated from a seed without any server (docs/simulator.md).

``build_order_book`` is pure, so the log generator can reference the very orders the database
will hold; ``orders.load_orders`` writes the book into MySQL/MariaDB ``db_commandes``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shutter_assets.simulator.plant import PRODUCTS, Product, order_numbers, program

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
    Raises ``ValueError`` below 6 orders. The random draws happen in a fixed order: the same
    seed gives the same book, byte for byte.
    """
    if n_orders < 6:
        raise ValueError("the order book needs at least 6 orders to hold every statut")
    rng = random.Random(f"orders:{seed}:{n_orders}:{start.isoformat()}")
    numeros = order_numbers(seed, n_orders, year=start.year)
    clients = _clients(rng, max(8, n_orders // 5), start)
    ref = datetime.combine(start, time(0, 0))

    statuts = list(STATUTS)
    rng.shuffle(statuts)
    statuts += rng.choices(STATUTS, weights=STATUT_WEIGHTS, k=n_orders - len(STATUTS))

    commandes: list[Commande] = []
    lignes: list[LigneCommande] = []
    programs: dict[str, str] = {}
    for index, (numero, statut) in enumerate(zip(numeros, statuts, strict=True)):
        id_commande = index + 1
        placed = _placed_at(rng, start, index, n_orders)
        delivery = _delivery(rng, placed, statut)
        order_lines, first_program = _order_lines(rng, id_commande, statut, placed, ref, lignes)
        lignes += order_lines
        programs[numero] = first_program or rng.choice(_ACTIVE).reference
        updated = placed + timedelta(seconds=rng.randint(0, int((ref - placed).total_seconds())))
        comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
        total = sum((lc.prix_unitaire * lc.quantite for lc in order_lines), Decimal("0.00"))
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
    _ensure_a_zero_date(commandes)
    for numero in programs:
        program(programs[numero])  # every assembly program exists in the plant's reference data
    return OrderBook(clients, list(PRODUCTS), commandes, lignes, programs)


_ACTIVE = [p for p in PRODUCTS if p.actif]
_INACTIVE = [p for p in PRODUCTS if not p.actif]


def _placed_at(rng: random.Random, start: date, index: int, n_orders: int) -> datetime:
    """When order ``index`` was placed: numbers increase with time over the 120 days."""
    day_offset = 120 - (index * 119) // max(1, n_orders - 1)
    return datetime.combine(
        start - timedelta(days=day_offset), time(rng.randint(8, 17), rng.randint(0, 59))
    ) + timedelta(seconds=rng.randint(0, 59))


def _delivery(rng: random.Random, placed: datetime, statut: str) -> date | str | None:
    """Planned delivery 2-6 weeks later; the ERP's zero date on most drafts, NULL on some."""
    delivery: date | str | None = placed.date() + timedelta(days=rng.randint(14, 42))
    if statut == "BROUILLON" and rng.random() < 0.6:
        delivery = ZERO_DATE
    elif statut == "ANNULEE" and rng.random() < 0.3:
        delivery = None
    return delivery


def _order_lines(
    rng: random.Random,
    id_commande: int,
    statut: str,
    placed: datetime,
    ref: datetime,
    earlier: list[LigneCommande],
) -> tuple[list[LigneCommande], str | None]:
    """1-4 lines of one order (ids follow ``earlier``) and the first active product's program."""
    lines: list[LigneCommande] = []
    first_program = None
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        if statut == "LIVREE" and rng.random() < 0.1:
            product = rng.choice(_INACTIVE)
        else:
            product = rng.choice(_ACTIVE)
            first_program = first_program or product.reference
        width = rng.randrange(600, 3010, 10)
        height = rng.randrange(500, 2610, 10)
        surface = Decimal(width * height) / Decimal(1_000_000)
        unit = _money(max(Decimal("1.2"), surface) * product.prix_m2)
        qty = rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 8, 12])
        line_updated = placed + timedelta(seconds=rng.randint(0, 3 * 86_400))
        lines.append(
            LigneCommande(
                len(earlier) + len(lines) + 1,
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
    return lines, first_program


def _ensure_a_zero_date(commandes: list[Commande]) -> None:
    """At least one order carries the zero date (the first one not being produced)."""
    if not any(c.date_livraison_prevue == ZERO_DATE for c in commandes):
        c = next(c for c in commandes if c.statut not in PRODUCED_STATUTS)
        commandes[commandes.index(c)] = replace(c, date_livraison_prevue=ZERO_DATE)
