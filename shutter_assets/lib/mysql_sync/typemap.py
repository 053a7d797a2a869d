"""MySQL column types → PostgreSQL mirror types, and the SELECT expression that renders each value.

The extract asks MySQL to render every row as one line of PostgreSQL ``COPY`` text format (fields
joined by tabs, ``\\N`` for NULL, backslash/tab/newline escaped). The server does this in C, the
Python process only moves bytes from one socket to the other, which is what makes the load run near
the speed of ``mysql --batch | psql \\copy``. Legacy values are cleaned on the way: zero dates
become NULL, latin1 text is converted to utf8mb4, TIMESTAMP values carry an explicit ``+00`` (the
session time zone is UTC), TINYINT(1) becomes a boolean.

The expressions rely on the extract session's ``sql_mode = ''`` (set by the sync), so backslashes in
string literals are escapes whatever the server's global mode is.

Mapping (DESIGN.md section 5, relied on by the dbt staging models): INT → integer (bigint for
BIGINT and INT UNSIGNED), VARCHAR/CHAR/TEXT/ENUM/SET → text, TINYINT(1) → boolean, other
TINYINT/SMALLINT → smallint, DECIMAL(p,s) → numeric(p,s), DATE → date, DATETIME → timestamp
(plant wall clock), TIMESTAMP → timestamptz, FLOAT/DOUBLE → double precision.
"""

from __future__ import annotations

from dataclasses import dataclass

# PostgreSQL type names exactly as format_type() prints them, so drift can be compared as text.
_TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


class UnsupportedColumnType(ValueError):
    """A source column whose type has no mirror mapping yet."""


@dataclass(frozen=True)
class SourceColumn:
    """One row of MySQL ``information_schema.columns`` that the mapping needs."""

    name: str
    data_type: str  # e.g. "int", "tinyint", "decimal"
    column_type: str  # e.g. "int(11) unsigned", "tinyint(1)", "enum('PVC','ALU')"
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    charset: str | None = None
    nullable: bool = True

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type.lower()


def quote_mysql(name: str) -> str:
    """Quote a MySQL identifier (backticks doubled), the only way names enter MySQL SQL here."""
    return "`" + name.replace("`", "``") + "`"


def pg_type(col: SourceColumn) -> str:
    """The mirror column type, as PostgreSQL's format_type() names it."""
    t = col.data_type.lower()
    ctype = col.column_type.lower()
    if t == "tinyint" and ctype.startswith("tinyint(1)"):
        return "boolean"
    if t == "tinyint":
        return "smallint"
    if t == "smallint":
        return "integer" if col.unsigned else "smallint"
    if t in ("mediumint", "int", "integer"):
        return "bigint" if col.unsigned and t != "mediumint" else "integer"
    if t == "bigint":
        return "numeric(20,0)" if col.unsigned else "bigint"
    if t == "year":
        return "smallint"
    if t == "bit":
        return "boolean" if ctype == "bit(1)" else "bigint"
    if t in ("decimal", "numeric"):
        return f"numeric({col.numeric_precision},{col.numeric_scale})"
    if t in ("float", "double", "real"):
        return "double precision"
    if t == "date":
        return "date"
    if t == "datetime":
        return "timestamp without time zone"
    if t == "timestamp":
        return "timestamp with time zone"
    if t == "time":
        return "interval"
    if t in _TEXT_TYPES:
        return "text"
    if t == "json":
        return "jsonb"
    if t in _BINARY_TYPES:
        return "bytea"
    raise UnsupportedColumnType(
        f"column {col.name!r} has MySQL type {col.column_type!r}, which the mirror cannot map; "
        "add it to shutter_assets/lib/mysql_sync/typemap.py (pg_type and copy_expression)"
    )


def _escape_text(expr: str) -> str:
    """Escape backslash, tab, newline and carriage return for COPY text format."""
    return (
        f"REPLACE(REPLACE(REPLACE(REPLACE({expr}, '\\\\', '\\\\\\\\'), "
        "'\\t', '\\\\t'), '\\n', '\\\\n'), '\\r', '\\\\r')"
    )


def _not_zero_date(q: str, rendered: str) -> str:
    """NULL for zero or partly-zero dates ('0000-00-00', '2026-00-00'), which PostgreSQL refuses."""
    return f"IF(YEAR({q}) = 0 OR MONTH({q}) = 0 OR DAYOFMONTH({q}) = 0, NULL, {rendered})"


def copy_expression(col: SourceColumn) -> str:
    """A MySQL expression rendering the column as one COPY text field (NULL stays NULL)."""
    q = quote_mysql(col.name)
    mapped = pg_type(col)
    t = col.data_type.lower()
    if mapped == "boolean":
        return f"IF({q} IS NULL, NULL, IF({q} <> 0, 't', 'f'))"
    if t == "bit":
        return f"CAST({q} + 0 AS CHAR)"
    if t == "date":
        return _not_zero_date(q, f"CAST({q} AS CHAR)")
    if t == "datetime":
        return _not_zero_date(q, f"CAST({q} AS CHAR)")
    if t == "timestamp":
        return _not_zero_date(q, f"CONCAT(CAST({q} AS CHAR), '+00')")
    if mapped in ("text", "jsonb"):
        return _escape_text(f"CONVERT({q} USING utf8mb4)")
    if mapped == "bytea":
        return f"CONCAT('\\\\\\\\x', HEX({q}))"
    return f"CAST({q} AS CHAR)"  # numbers, TIME (PostgreSQL reads 838:59:59 as an interval)


def copy_line_expression(columns: list[SourceColumn]) -> str:
    r"""One expression per row: the COPY text line (without its newline).

    CONCAT_WS skips NULL arguments, so each field that can be NULL (a nullable column, or a date
    that may be a zero date) is wrapped in IFNULL(..., '\N'); the others are left bare, which
    saves the server work on the large tables.
    """
    fields = [
        f"IFNULL({copy_expression(c)}, '\\\\N')"
        if c.nullable or c.data_type.lower() in ("date", "datetime", "timestamp")
        else copy_expression(c)
        for c in columns
    ]
    return "CONCAT_WS('\\t', " + ", ".join(fields) + ")"
