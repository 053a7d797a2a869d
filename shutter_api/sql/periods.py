"""Re-aggregation of a mart's daily rows at a grain and grouping: the one statement shape.

Every period endpoint (OEE per day or per shift, reliability, losses, changeovers, operators)
sums the components of the mart rows inside ``[from, to]`` per period and group, then computes
its ratios from those sums (DESIGN.md section 6: never an average of ratios). ``summed_by_period``
writes that statement once; the endpoints give only the mart, its date column, what to sum and
the ratios. Sums and ratios stay numeric in SQL; only the results are cast to double precision
(decoding numeric into Python Decimals cost more than the query).

Parameters every statement binds: ``from``, ``to`` (dates), ``grain`` (day | week | month |
range), ``group_by`` (for machine groupings), ``limit``, ``offset`` plus the filters named in
``where``. Nothing here is formatted from a request: the fragments are fixed at import time.
"""

from __future__ import annotations

from collections.abc import Sequence

# The group of a mart row (alias ``mart``) with a machine_id, joined to dim_machine as ``machines``.
MACHINE_GROUP = """
        case %(group_by)s
            when 'machine' then mart.machine_id
            when 'machine_type' then coalesce(machines.machine_type, 'UNKNOWN')
            else 'plant'
        end"""

MACHINE_JOIN = "left join marts.dim_machine as machines on mart.machine_id = machines.machine_id"

MACHINE_FILTER = """
        (%(machine_id)s::text is null or mart.machine_id = %(machine_id)s)
        and (%(machine_type)s::text is null
            or coalesce(machines.machine_type, 'UNKNOWN') = %(machine_type)s)"""

_PERIOD_LABELS = """
        case %(grain)s
            when 'day' then to_char(period_start, 'YYYY-MM-DD')
            when 'week' then to_char(period_start, 'IYYY-"W"IW')
            when 'month' then to_char(period_start, 'YYYY-MM')
            else to_char(%(from)s::date, 'YYYY-MM-DD') || '/' || to_char(%(to)s::date, 'YYYY-MM-DD')
        end as period,
        period_start,
        case %(grain)s
            when 'day' then period_start
            when 'week' then period_start + 6
            when 'month' then (period_start + interval '1 month' - interval '1 day')::date
            else %(to)s::date
        end as period_end,
        group_key as "group\""""


def _period_start(date_column: str) -> str:
    return f"""
        case %(grain)s
            when 'day' then mart.{date_column}
            when 'week' then date_trunc('week', mart.{date_column}::timestamp)::date
            when 'month' then date_trunc('month', mart.{date_column}::timestamp)::date
            else %(from)s::date
        end"""


def as_float(columns: Sequence[str]) -> str:
    """``column::float8 as column`` for each column (what JSON carries)."""
    return ",\n        ".join(f"{c}::float8 as {c}" for c in columns)


def summed_by_period(
    *,
    mart: str,
    date_column: str,
    sums: Sequence[str],
    outputs: str,
    ratios: str = "",
    group: str = MACHINE_GROUP,
    joins: str = MACHINE_JOIN,
    where: str = MACHINE_FILTER,
    keys: Sequence[str] = (),
    count_as: str | None = None,
) -> str:
    """One paged statement: the rows of ``marts.<mart>`` summed per period, group and ``keys``.

    - ``date_column``: the mart's plant-local date that places a row in a period and in the range.
    - ``sums``: columns summed (same names after summing); ``count_as``: name of the row count.
    - ``ratios``: extra columns computed from the sums (``a / nullif(b, 0) as r``).
    - ``outputs``: the select list after the period labels and ``keys`` (units cast there).
    - ``group``/``joins``/``where``: the group expression, the joins it needs, the filters.

    Ordered by period_start, group, then ``keys``: a total order over the result rows.
    """
    key_list = "".join(f",\n        mart.{k}" for k in keys)
    key_names = "".join(f",\n        {k}" for k in keys)
    key_order = "".join(f", {k}" for k in keys)
    summed = ",\n        ".join(f"sum({c}) as {c}" for c in sums)
    counted = f"count(*) as {count_as},\n        " if count_as else ""
    sum_columns = "".join(f",\n        mart.{c}" for c in sums)
    return f"""
with

mart_rows as (

    select
{_period_start(date_column)} as period_start,
{group} as group_key{key_list}{sum_columns}
    from marts.{mart} as mart
    {joins}
    where mart.{date_column} between %(from)s and %(to)s
        and {where}

),

sums as (

    select
        period_start,
        group_key{key_names},
        {counted}{summed}
    from mart_rows
    group by period_start, group_key{key_order}

),

ratios as (

    select
        *{"," if ratios else ""}
        {ratios}
    from sums

),

final as (

    select
{_PERIOD_LABELS}{key_names},
        {outputs},
        count(*) over () as total
    from ratios

)

select * from final
order by period_start, "group"{key_order}
limit %(limit)s offset %(offset)s
"""
