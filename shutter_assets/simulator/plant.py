"""The plant's reference data: machines, NC programs with their ideal cycle times, products.

These tables are the single source the simulator draws from; the dbt seeds of machine reference
data are written from them and a test checks that both agree, so keep them plain constants.
``ideal_s_per_part`` is ISO 22400's PRU (planned run time per unit) used for ``ideal_run_s``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_ORDER_YEAR = 2026


@dataclass(frozen=True)
class MachineType:
    code: str
    label: str


@dataclass(frozen=True)
class Machine:
    machine_id: str
    machine_type: str
    label: str


@dataclass(frozen=True)
class Program:
    program: str
    machine_type: str
    ideal_s_per_part: float
    parts_per_cycle: int


@dataclass(frozen=True)
class Product:
    """A row of ``produits``; an active product's reference is also an AS assembly program."""

    id_produit: int
    reference: str
    libelle: str
    type_lame: str
    motorisation: str
    prix_m2: Decimal
    actif: int


MACHINE_TYPES: list[MachineType] = [
    MachineType("CU", "Centre d'usinage"),
    MachineType("SC", "Scie à profilés"),
    MachineType("AS", "Ligne d'assemblage"),
]

MACHINES: list[Machine] = [
    Machine("CU-01", "CU", "Centre d'usinage lames 1"),
    Machine("CU-02", "CU", "Centre d'usinage lames 2"),
    Machine("SC-01", "SC", "Scie double tête 1"),
    Machine("SC-02", "SC", "Scie double tête 2"),
    Machine("AS-01", "AS", "Ligne d'assemblage volets"),
    # Added later (issue 11: a plant of ten machines); appended, so the first five keep their
    # place in every ordering that derives from this list (file plans, the live feed's turns).
    Machine("CU-03", "CU", "Centre d'usinage lames 3"),
    Machine("CU-04", "CU", "Centre d'usinage coulisses"),
    Machine("SC-03", "SC", "Scie double tête 3"),
    Machine("AS-02", "AS", "Ligne d'assemblage volets 2"),
    Machine("AS-03", "AS", "Ligne d'assemblage volets 3"),
]

PROGRAMS: list[Program] = [
    Program("LAME-ALU-39", "CU", 9.0, 4),
    Program("LAME-PVC-40", "CU", 7.5, 4),
    Program("LAME-ALUISO-45", "CU", 11.0, 4),
    Program("COULISSE-ALU-53", "CU", 22.0, 2),
    Program("DEBIT-LAME-ALU", "SC", 6.0, 6),
    Program("DEBIT-LAME-PVC", "SC", 5.0, 6),
    Program("DEBIT-COULISSE", "SC", 11.0, 2),
    Program("VR-PVC-MANUEL", "AS", 180.0, 1),
    Program("VR-PVC-FILAIRE", "AS", 210.0, 1),
    Program("VR-ALU-FILAIRE", "AS", 225.0, 1),
    Program("VR-ALU-RADIO", "AS", 240.0, 1),
    Program("VR-ALUISO-RADIO", "AS", 260.0, 1),
    Program("VR-ALUISO-SOLAIRE", "AS", 300.0, 1),
]

PRODUCTS: list[Product] = [
    Product(
        1,
        "VR-PVC-MANUEL",
        "Volet roulant PVC manoeuvre sangle",
        "PVC",
        "MANUEL",
        Decimal("89.00"),
        1,
    ),
    Product(
        2,
        "VR-PVC-FILAIRE",
        "Volet roulant PVC motorisé filaire",
        "PVC",
        "FILAIRE",
        Decimal("129.00"),
        1,
    ),
    Product(
        3,
        "VR-ALU-FILAIRE",
        "Volet roulant aluminium motorisé filaire",
        "ALU",
        "FILAIRE",
        Decimal("159.00"),
        1,
    ),
    Product(
        4,
        "VR-ALU-RADIO",
        "Volet roulant aluminium radio télécommandé",
        "ALU",
        "RADIO",
        Decimal("179.50"),
        1,
    ),
    Product(
        5,
        "VR-ALUISO-RADIO",
        "Volet roulant alu isolé radio",
        "ALU_ISOLE",
        "RADIO",
        Decimal("209.00"),
        1,
    ),
    Product(
        6,
        "VR-ALUISO-SOLAIRE",
        "Volet roulant alu isolé solaire autonome",
        "ALU_ISOLE",
        "SOLAIRE",
        Decimal("249.90"),
        1,
    ),
    Product(
        7,
        "VR-PVC-SOLAIRE-V1",
        "Volet PVC solaire (1re génération, arrêté)",
        "PVC",
        "SOLAIRE",
        Decimal("199.00"),
        0,
    ),
]

# Alarm codes per machine type with the controller's French message; some hold a ';'.
ALARMS: dict[str, list[tuple[str, str]]] = {
    "CU": [
        ("E1042", "Défaut broche"),
        ("E1107", "Température broche élevée; arrêt préventif"),
        ("E2210", "Bris d'outil détecté — changer la fraise T4"),
        ("E3001", "Pression d'air insuffisante"),
        ("E4150", "Porte de sécurité ouverte"),
    ],
    "SC": [
        ("S0101", "Lame usée : vibration élevée"),
        ("S0230", "Bourrage à l'évacuation des chutes"),
        ("S0412", "Défaut butée électronique; recalage nécessaire"),
        ("S0500", "Arrêt d'urgence activé"),
    ],
    "AS": [
        ("A7001", "Moteur tubulaire non détecté au banc de test"),
        ("A7120", "Défaut vissage coulisse; couple hors tolérance"),
        ("A7300", "Manque lames en entrée de ligne"),
        ("A7455", "Capteur présence caisson défaillant"),
    ],
}

SCRAP_REASONS: list[str] = [
    "Bavure; reprise impossible",
    "Rayure sur laquage",
    "Cote hors tolérance (±0,5 mm)",
    "Perçage décalé",
    "Éclat de peinture",
    "Profil déformé; mis au rebut",
]

IDLE_REASONS: list[str] = [
    "Attente matière",
    "Attente cariste",
    "Pause équipe",
    "Attente contrôle qualité",
]


def machine(machine_id: str) -> Machine:
    """The machine with this id; the error lists the known ids so a CLI typo is easy to fix."""
    for m in MACHINES:
        if m.machine_id == machine_id:
            return m
    known = ", ".join(m.machine_id for m in MACHINES)
    raise KeyError(f"unknown machine {machine_id!r}: known machines are {known}")


def programs_for(machine_type: str) -> list[Program]:
    return [p for p in PROGRAMS if p.machine_type == machine_type]


def program(name: str) -> Program:
    for p in PROGRAMS:
        if p.program == name:
            return p
    raise KeyError(f"unknown program {name!r}")


def order_numbers(seed: int, n: int, year: int = DEFAULT_ORDER_YEAR) -> list[str]:
    """``n`` distinct, increasing order numbers ``CMD-YYYY-NNNNNN``, a pure function of the seed.

    The ERP numbers orders sequentially with gaps (deleted drafts), which is what this mimics.
    The logs reference these numbers and ``commandes.numero`` holds exactly them.
    """
    rng = random.Random(f"order-numbers:{seed}:{year}")
    number = rng.randint(100, 4000)
    out = []
    for _ in range(n):
        out.append(f"CMD-{year:04d}-{number:06d}")
        number += 1 if rng.random() < 0.85 else rng.randint(2, 5)
    if number > 999_999:
        raise ValueError(f"{n} orders do not fit in the six-digit order numbers of {year}")
    return out
