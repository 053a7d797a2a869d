"""``/v1/orders``: customer orders with their production status (order_production_status)."""

from __future__ import annotations

import datetime as dt

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from shutter_api.db import MartsVersion
from shutter_api.deps import get_reader
from shutter_api.filters import NOT_FOUND, READ_RESPONSES, checked_range
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Reader, Result
from shutter_api.schemas import Order, OrderStatus, Page
from shutter_api.sql import fetch_one, fetch_page
from shutter_api.sql import orders as queries

router = APIRouter(prefix="/orders", tags=["orders"])
COLUMNS = list(Order.model_fields)
NUMERO_PATTERN = r"^[A-Z]{3}-[0-9]{4}-[0-9]{6}$"


@router.get("", response_model=Page[Order], responses=READ_RESPONSES)
async def list_orders(
    status_: OrderStatus | None = Query(None, alias="status", description="Only this ERP status."),
    late: bool = Query(False, description="true: only late orders."),
    customer_id: int | None = Query(None, ge=1, le=2**31 - 1, description="Only this customer."),
    delivery_from: dt.date | None = Query(None, description="Planned delivery on or after."),
    delivery_to: dt.date | None = Query(None, description="Planned delivery on or before."),
    page: PageParams = Depends(page_params),
    reader: Reader = Depends(get_reader),
) -> Response:
    """Orders in numero order, with what the machines produced for each."""
    if delivery_from and delivery_to:
        checked_range(delivery_from, delivery_to, "delivery_from", "delivery_to")
    params = {
        "status": status_.value if status_ else None,
        "late_only": late,
        "customer_id": customer_id,
        "delivery_from": delivery_from,
        "delivery_to": delivery_to,
    }

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        rows, total = await fetch_page(conn, queries.ORDERS, params, page)
        items = [Order.model_validate(r) for r in rows]
        body = Page[Order](
            data_version=version and version.version, total=total, items=items, **page.model_dump()
        )
        return Result(body, [i.model_dump(mode="json") for i in items], COLUMNS, total)

    public = {**params, "late": late}
    del public["late_only"]
    return await reader.respond("orders", public, compute, page)


@router.get("/{numero}", response_model=Order, responses={**READ_RESPONSES, **NOT_FOUND})
async def get_order(
    numero: str = Path(pattern=NUMERO_PATTERN, description="Order number, e.g. CMD-2026-000123."),
    reader: Reader = Depends(get_reader),
) -> Response:
    """One order by its numero; 404 when the marts do not know it."""

    async def compute(conn: psycopg.AsyncConnection, version: MartsVersion | None) -> Result:
        row = await fetch_one(conn, queries.ORDER, {"numero": numero})
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Unknown order {numero!r}.")
        order = Order.model_validate(row)
        return Result(order, [order.model_dump(mode="json")], COLUMNS)

    return await reader.respond("order", {"numero": numero}, compute)
