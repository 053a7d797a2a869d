"""MySQL column types → PostgreSQL mirror types, and the SELECT expression that renders each value.

The extract asks MySQL to render every row as one line of PostgreSQL ``COPY`` text format (fields
joined by tabs, ``\\N`` for NULL, backslash/tab/newline escaped). The server does this in C, the
Python process only moves bytes from one socket to the other, which is what makes the load run near
the speed of ``mysql --batch | psql \\copy``.

The mirror is lossless (DESIGN.md section 5): every type has a mapping, none stops a table. A type
with a faithful PostgreSQL twin maps to it; any other type lands as its text form (binary types,
spatial ones included, as ``bytea``) and ``type_fallback`` says so for the metadata. Integers keep
their full range (``BIGINT UNSIGNED`` → ``numeric(20,0)``); ``TINYINT(1)`` is a small integer, not a
boolean (staging interprets it).

Values PostgreSQL cannot hold are cleaned on the way and *marked*: a date that does not exist
(zero dates, ``2026-02-31`` written under ``ALLOW_INVALID_DATES``) becomes NULL, a NUL byte in text
is removed. The rendered field is then prefixed with ``\\0<kind><column index>\\0``; a NUL never
occurs in a rendered line otherwise, so ``strip_marks`` finds the marks with one ``memchr`` per
batch, counts them per column and removes them before the bytes reach ``COPY``.

The expressions rely on the extract session's ``sql_mode = ''`` (set by the sync), so backslashes in
string literals are escapes whatever the server's global mode is.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# PostgreSQL type names exactly as format_type() prints them, so drift can be compared as text.
_TEXT_TYPES = {
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "enum",
    "set",
    "json",
}
_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_SPATIAL_TYPES = {
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection", "geomcollection",
}  # fmt: skip
_TEMPORAL_TYPES = {"date", "datetime", "timestamp"}
# types whose MySQL text form has no comma, quote or letter N (row_hash_expression)
_PLAIN_HASH_TYPES = {
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
    "float", "double", "real", "year", "date", "datetime", "timestamp", "time", "uuid",
    "inet4", "inet6",
}  # fmt: skip

INVALID_DATE = "D"  # mark kind: a date that does not exist, landed as NULL
NUL_REMOVED = "Z"  # mark kind: NUL bytes removed from a text value
_MARK = re.compile(rb"\x00([DZ])(\d+)\x00")
_NUL = "CHAR(0 USING utf8mb4)"
_NULL_FIELD = "'\\\\N'"  # the SQL literal '\\N', which is COPY's \N (NULL)


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

    @property
    def bit_width(self) -> int:
        match = re.match(r"bit\((\d+)\)", self.column_type.lower())
        return int(match.group(1)) if match else 1


def quote_mysql(name: str) -> str:
    """Quote a MySQL identifier (backticks doubled), the only way names enter MySQL SQL here."""
    return "`" + name.replace("`", "``") + "`"


def _integer_type(t: str, unsigned: bool) -> str | None:
    """The smallest PostgreSQL integer type holding the whole MySQL range (None: not an integer)."""
    ranks = {"tinyint": 0, "smallint": 1, "mediumint": 2, "int": 2, "integer": 2, "bigint": 3}
    if t not in ranks:
        return None
    rank = ranks[t] + (1 if unsigned and t != "mediumint" else 0)
    return ("smallint", "smallint", "integer", "bigint", "numeric(20,0)")[rank]


def pg_type(col: SourceColumn) -> str:
    """The mirror column type, as PostgreSQL's format_type() names it (every type has one)."""
    t = col.data_type.lower()
    integer = _integer_type(t, col.unsigned)
    if integer:
        return integer
    simple = {
        "year": "smallint",
        "float": "double precision",
        "double": "double precision",
        "real": "double precision",
        "date": "date",
        "datetime": "timestamp without time zone",
        "timestamp": "timestamp with time zone",
        "time": "interval",
        "uuid": "uuid",
        "inet4": "inet",
        "inet6": "inet",
    }
    if t in simple:
        return simple[t]
    if t == "bit":
        return "boolean" if col.bit_width == 1 else f"bit({col.bit_width})"
    if t in ("decimal", "numeric"):
        return f"numeric({col.numeric_precision},{col.numeric_scale})"
    if t in _BINARY_TYPES or t in _SPATIAL_TYPES:
        return "bytea"
    return "text"  # the text family, and the text form of any type not named above


def type_fallback(col: SourceColumn) -> str | None:
    """Why a column has no faithful twin and how it lands instead (None: it has one)."""
    t = col.data_type.lower()
    if t in _SPATIAL_TYPES:
        return f"{col.column_type} has no PostgreSQL twin: stored as bytea (SRID + WKB, as held)"
    if pg_type(col) == "text" and t not in _TEXT_TYPES:
        return f"{col.column_type} is not a known MySQL type: stored as its text form"
    return None


def _escape_text(expr: str) -> str:
    """Escape backslash, tab, newline and carriage return for COPY text format."""
    return (
        f"REPLACE(REPLACE(REPLACE(REPLACE({expr}, '\\\\', '\\\\\\\\'), "
        "'\\t', '\\\\t'), '\\n', '\\\\n'), '\\r', '\\\\r')"
    )


def _mark(kind: str, index: int, rendered: str) -> str:
    return f"CONCAT({_NUL}, '{kind}{index}', {_NUL}, {rendered})"


def _text(q: str, index: int) -> str:
    """Text as utf8mb4, escaped; NUL bytes removed and marked (INSTR only, on the common path)."""
    utf8 = f"CONVERT({q} USING utf8mb4)"
    cleaned = _escape_text(f"REPLACE({utf8}, {_NUL}, '')")
    return (
        f"IF(INSTR({utf8}, {_NUL}) > 0, {_mark(NUL_REMOVED, index, cleaned)}, {_escape_text(utf8)})"
    )


def _temporal(q: str, t: str, index: int, rendered: str) -> str:
    """NULL (marked) for a date that does not exist: zero parts, year 0, or 31 February.

    ``+ INTERVAL 0 DAY`` is NULL exactly when MySQL cannot make a real date of the value. A
    TIMESTAMP holds real instants only, except the zero value.
    """
    invalid = (
        f"YEAR({q}) = 0" if t == "timestamp" else f"YEAR({q}) = 0 OR {q} + INTERVAL 0 DAY IS NULL"
    )
    null = _mark(INVALID_DATE, index, _NULL_FIELD)
    return f"IF({q} IS NOT NULL AND ({invalid}), {null}, {rendered})"


def copy_expression(col: SourceColumn, index: int) -> str:
    """A MySQL expression rendering the column (at ``index`` in the line) as one COPY text field."""
    q = quote_mysql(col.name)
    mapped = pg_type(col)
    t = col.data_type.lower()
    if t == "bit":
        if mapped == "boolean":
            return f"IF({q} IS NULL, NULL, IF({q} <> 0, 't', 'f'))"
        return f"LPAD(BIN({q}), {col.bit_width}, '0')"
    if t in ("date", "datetime"):
        return _temporal(q, t, index, f"CAST({q} AS CHAR)")
    if t == "timestamp":
        return _temporal(q, t, index, f"CONCAT(CAST({q} AS CHAR), '+00')")
    if mapped == "bytea":
        return f"CONCAT('\\\\\\\\x', HEX({q}))"
    if mapped == "text":
        return _text(q, index)
    return f"CAST({q} AS CHAR)"  # numbers, uuid, inet, TIME (PostgreSQL reads 838:59:59)


def copy_line_expression(columns: list[SourceColumn]) -> str:
    r"""One expression per row: the COPY text line (without its newline), the row's content
    hash (``row_hash_expression``) as its last field.

    CONCAT_WS skips NULL arguments, so each field that can be NULL (a nullable column, or a date
    that may not exist) is wrapped in IFNULL(..., '\N'); the others are left bare, which saves
    the server work on the large tables.
    """
    fields = [
        f"IFNULL({copy_expression(c, i)}, {_NULL_FIELD})"
        if c.nullable or c.data_type.lower() in _TEMPORAL_TYPES
        else copy_expression(c, i)
        for i, c in enumerate(columns)
    ]
    fields.append(row_hash_expression(columns))
    return "CONCAT_WS('\\t', " + ", ".join(fields) + ")"


def _hash_field(col: SourceColumn) -> str:
    """A column's part of the hashed text; distinct values (NULL included) give distinct parts.

    Numbers, dates, times, UUIDs and addresses print without commas or quotes, so their text
    (``N`` for NULL, which none of them prints) cannot run into the next part; every other type
    is ``QUOTE``d as bytes (quotes and backslashes escaped, ``NULL`` unquoted), whatever its
    character set.
    """
    q = quote_mysql(col.name)
    if col.data_type.lower() in _PLAIN_HASH_TYPES:
        return f"IFNULL({q}, 'N')" if col.nullable else q
    return f"QUOTE(CAST({q} AS BINARY))"


def row_hash_expression(columns: list[SourceColumn]) -> str:
    """MySQL's content hash of a row: ``CRC32`` (0 to 2**32 - 1) of its columns' text joined by
    commas (``_hash_field``), in column order.

    Computed by MySQL for every row it sends (stored in the mirror's ``_row_hash``) and again
    when the reconcile compares a bucket's content (``reconcile.py``), by the same expression,
    in a ``time_zone = '+00:00'`` session, so an unchanged row always hashes the same. Valid on
    MariaDB 10.x and MySQL 5.7/8.
    """
    return "CRC32(CONCAT_WS(','," + ", ".join(_hash_field(c) for c in columns) + "))"


def strip_marks(data: bytes, names: list[str], counts: Counter) -> bytes:
    """Remove the cleaning marks from COPY text, counting ``(kind, column name)`` in ``counts``."""
    if b"\x00" not in data:
        return data
    for kind, index in _MARK.findall(data):
        counts[(kind.decode(), names[int(index)])] += 1
    return _MARK.sub(b"", data)
