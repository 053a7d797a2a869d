"""``/v1/orders``: customer orders with their production status (order_production_status)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Path, Query, Response

from shutter_api.deps import get_reader
from shutter_api.filters import NOT_FOUND, READ_RESPONSES, checked_range
from shutter_api.pagination import PageParams, page_params
from shutter_api.responses import Known, Reader
from shutter_api.schemas import Order, OrderStatus, Page
from shutter_api.sql import orders as queries

router = APIRouter(prefix="/orders", tags=["orders"])
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
        "late": late,
        "customer_id": customer_id,
        "delivery_from": delivery_from,
        "delivery_to": delivery_to,
    }
    return await reader.page("orders", Order, queries.ORDERS, params, page)


@router.get("/{numero}", response_model=Order, responses={**READ_RESPONSES, **NOT_FOUND})
async def get_order(
    numero: str = Path(pattern=NUMERO_PATTERN, description="Order number, e.g. CMD-2026-000123."),
    reader: Reader = Depends(get_reader),
) -> Response:
    """One order by its numero; 404 when the marts do not know it."""
    known = Known(queries.ORDER, {"numero": numero}, f"Unknown order {numero!r}.")
    return await reader.one("order", Order, known)
