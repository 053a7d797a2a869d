{#-
    Production progress of every order (per `numero`): the orders of db_commandes (deleted ones
    excluded) plus any order reference seen in the machine logs but unknown to the ERP (its
    statut is then NULL), so production is never silently lost.
    is_late: a planned delivery date exists and either production's last event fell after it
    (plant-local day) or the order is still open (not EXPEDIEE/LIVREE/ANNULEE) past it, relative
    to var('as_of_date') or the plant-local today.
-#}
with

orders as (

    select
        order_id,
        order_number,
        customer_id,
        planned_delivery_date,
        order_status
    from {{ ref('stg_commandes__commandes') }}

),

ordered_lines as (

    select
        order_id,
        sum(quantity) as ordered_qty
    from {{ ref('stg_commandes__lignes_commande') }}
    group by order_id

),

orders_with_qty as (

    select
        orders.order_number,
        orders.customer_id,
        orders.planned_delivery_date,
        orders.order_status,
        coalesce(ordered_lines.ordered_qty, 0) as ordered_qty
    from orders
    left join ordered_lines on orders.order_id = ordered_lines.order_id

),

production as (

    select
        order_ref,
        sum(produced_qty) as produced_qty,
        sum(scrap_qty) as scrap_qty,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at
    from {{ ref('int_production_counts') }}
    where order_ref is not null
    group by order_ref

),

as_of as (

    select
        coalesce(
            {{ "cast('" ~ var('as_of_date') ~ "' as date)" if var('as_of_date') else 'null::date' }},
            {{ local_date('now()') }}
        ) as as_of_date

),

joined as (

    select
        coalesce(orders_with_qty.order_number, production.order_ref) as numero,
        orders_with_qty.customer_id,
        orders_with_qty.ordered_qty,
        coalesce(production.produced_qty, 0) as produced_qty,
        coalesce(production.produced_qty, 0) - coalesce(production.scrap_qty, 0) as good_qty,
        coalesce(production.scrap_qty, 0) as scrap_qty,
        production.first_event_at,
        production.last_event_at,
        orders_with_qty.planned_delivery_date as date_livraison_prevue,
        orders_with_qty.order_status as statut
    from orders_with_qty
    full outer join production on orders_with_qty.order_number = production.order_ref

),

final as (

    select
        joined.numero,
        joined.customer_id,
        {{ as_count('joined.ordered_qty') }} as ordered_qty,
        {{ as_count('joined.produced_qty') }} as produced_qty,
        {{ as_count('joined.good_qty') }} as good_qty,
        {{ as_count('joined.scrap_qty') }} as scrap_qty,
        joined.first_event_at,
        joined.last_event_at,
        joined.date_livraison_prevue,
        joined.statut,
        coalesce(
            joined.date_livraison_prevue is not null
            and (
                {{ local_date('joined.last_event_at') }} > joined.date_livraison_prevue
                or (
                    joined.statut not in ('EXPEDIEE', 'LIVREE', 'ANNULEE')
                    and as_of.as_of_date > joined.date_livraison_prevue
                )
            ),
            false
        ) as is_late
    from joined
    cross join as_of

)

select * from final
