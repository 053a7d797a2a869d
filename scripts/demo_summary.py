"""Print what `make demo` landed in the warehouse, ending with marts.machine_oee_daily.

Fails (exit 1) when a layer the demo must fill is empty, so `make demo` cannot look green while
something upstream silently loaded nothing.
"""

from __future__ import annotations

import sys
from decimal import Decimal

import psycopg
from psycopg import sql

from shutter_assets.lib.connections import PostgresSettings

LAYERS = {
    "raw": ["ingested_files", "machine_events", "machine_event_rejects"],
    "raw_commandes": ["clients", "produits", "commandes", "lignes_commande"],
    "marts": [
        "machine_oee_daily",
        "machine_reliability",
        "downtime_pareto",
        "order_production_status",
        "daily_throughput",
        "dim_machine",
        "dim_order",
        "dim_customer",
        "dim_product",
    ],
}
MAY_BE_EMPTY = {("raw", "machine_event_rejects")}

OEE_COLUMNS = [
    "machine_id",
    "production_date",
    "planned_busy_s",
    "run_s",
    "setup_s",
    "down_s",
    "idle_s",
    "produced_qty",
    "good_qty",
    "scrap_qty",
    "ideal_run_s",
    "availability",
    "performance",
    "quality",
    "oee",
]


def render_table(columns: list[str], rows: list[tuple]) -> str:
    """A plain fixed-width table; ratios as percentages so a plant manager reads them at once."""

    def cell(column: str, value: object) -> str:
        if value is None:
            return "-"
        if column in ("availability", "performance", "quality", "oee"):
            return f"{float(value) * 100:.1f}%"
        if column.endswith("_s"):
            return f"{float(value):,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, (float, Decimal)):
            return f"{float(value):,g}"
        return str(value)

    text = [[cell(c, v) for c, v in zip(columns, row, strict=True)] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in text]
    return "\n".join(lines)


def render_counts(counts: dict[str, int | None]) -> str:
    """One line per table: names padded to the longest, row counts right-aligned with separators."""
    name_width = max(map(len, counts))
    cells = {name: "missing" if n is None else f"{n:,} rows" for name, n in counts.items()}
    count_width = max(map(len, cells.values()))
    return "\n".join(
        f"  {name:<{name_width}}  {cell:>{count_width}}" for name, cell in cells.items()
    )


def count_rows(conn: psycopg.Connection, schema: str, table: str) -> int | None:
    exists = conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0]
    if exists is None:
        return None
    query = sql.SQL("select count(*) from {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    return conn.execute(query).fetchone()[0]


def main() -> int:
    settings = PostgresSettings.from_env()
    problems: list[str] = []
    with settings.connect(autocommit=True) as conn:
        print(f"\nWarehouse {settings.dbname} on {settings.host}:{settings.port}")
        counts = {}
        for schema, tables in LAYERS.items():
            for table in tables:
                n = counts[f"{schema}.{table}"] = count_rows(conn, schema, table)
                if (n is None or n == 0) and (schema, table) not in MAY_BE_EMPTY:
                    problems.append(f"{schema}.{table} is {'missing' if n is None else 'empty'}")
        print(render_counts(counts))
        files = conn.execute(
            "select status, count(*) from raw.ingested_files group by status order by status"
        ).fetchall()
        print("  files by status: " + ", ".join(f"{s} {n:,}" for s, n in files))
        if count_rows(conn, "marts", "machine_oee_daily"):
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in OEE_COLUMNS)
            rows = conn.execute(
                sql.SQL(
                    "select {} from marts.machine_oee_daily order by production_date, machine_id"
                ).format(columns)
            ).fetchall()
            busy = [r for r in rows if r[2]]
            print("\nmarts.machine_oee_daily (ISO 22400-2, per machine and plant-local day)\n")
            print(render_table(OEE_COLUMNS, busy))
            if len(busy) < len(rows):
                print(f"({len(rows) - len(busy)} machine-days with no planned busy time not shown)")
    if problems:
        print("\nmake demo: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
