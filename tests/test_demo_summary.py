"""The demo's closing summary reads at a glance: aligned columns, thousands separators."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from scripts.demo_summary import OEE_COLUMNS, render_counts, render_table


def test_row_counts_align_with_thousands_separators():
    text = render_counts(
        {"raw.machine_events": 1234567, "raw_commandes.lignes_commande": 980, "marts.dim_x": None}
    )
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1  # right edges line up
    assert lines[0].endswith("1,234,567 rows")
    assert lines[1].endswith("      980 rows")
    assert lines[2].endswith("missing")
    # names start in one column, counts start after the longest name
    assert lines[1].index("980") > len("  raw_commandes.lignes_commande")


def test_oee_table_aligns_columns_and_separates_thousands():
    row = (
        "CU-01",
        date(2026, 11, 20),
        Decimal("52199.750"),
        Decimal("43200.000"),
        Decimal("900.250"),
        Decimal("6899.500"),
        Decimal("1200.000"),
        12345,
        12000,
        345,
        Decimal("40100.500"),
        Decimal("0.827590"),
        Decimal("0.928252"),
        Decimal("0.972054"),
        Decimal("0.746731"),
    )
    idle = ("SC-01", date(2026, 11, 20), *[Decimal("0.000")] * 5, 0, 0, 0, Decimal("0.000"))
    idle += (None, None, None, None)
    lines = render_table(OEE_COLUMNS, [row, idle]).splitlines()
    assert len({len(line) for line in lines}) == 1
    assert "52,200" in lines[2] and "12,345" in lines[2] and "82.8%" in lines[2]
    assert lines[3].rstrip().endswith("-")
    # every value ends under the end of its header
    header_ends = [lines[0].index(c) + len(c) for c in OEE_COLUMNS]
    for line in lines[2:]:
        for end in header_ends:
            assert line[end - 1] != " "
