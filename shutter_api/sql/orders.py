"""Orders with their production status (order_production_status + dim_customer's name)."""

_SELECT = """
    select
        orders.numero,
        orders.customer_id,
        customers.customer_name,
        orders.statut,
        orders.date_livraison_prevue,
        orders.is_late,
        orders.ordered_qty,
        orders.produced_qty,
        orders.good_qty,
        orders.scrap_qty,
        orders.first_event_at,
        orders.last_event_at"""

ORDERS = f"""
with

final as (
{_SELECT},
        count(*) over () as total
    from marts.order_production_status as orders
    left join marts.dim_customer as customers on orders.customer_id = customers.customer_id
    where (%(status)s::text is null or orders.statut = %(status)s)
        and (not %(late)s or orders.is_late)
        and (%(customer_id)s::bigint is null or orders.customer_id = %(customer_id)s)
        and (%(delivery_from)s::date is null or orders.date_livraison_prevue >= %(delivery_from)s)
        and (%(delivery_to)s::date is null or orders.date_livraison_prevue <= %(delivery_to)s)

)

select * from final
order by numero
limit %(limit)s offset %(offset)s
"""

ORDER = f"""
{_SELECT}
    from marts.order_production_status as orders
    left join marts.dim_customer as customers on orders.customer_id = customers.customer_id
    where orders.numero = %(numero)s
"""
