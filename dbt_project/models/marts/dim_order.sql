with

commandes as (

    select
        order_id,
        order_number,
        customer_id,
        ordered_at_local,
        planned_delivery_date,
        order_status,
        amount_excl_tax,
        order_comment,
        updated_at
    from {{ ref('stg_commandes__commandes') }}

),

lines as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as ordered_qty,
        sum(line_amount) as lines_amount
    from {{ ref('stg_commandes__lignes_commande') }}
    group by order_id

),

final as (

    select
        commandes.order_id,
        commandes.order_number,
        commandes.customer_id,
        commandes.ordered_at_local,
        commandes.planned_delivery_date,
        commandes.order_status,
        commandes.amount_excl_tax,
        coalesce(lines.line_count, 0) as line_count,
        coalesce(lines.ordered_qty, 0) as ordered_qty,
        coalesce(lines.lines_amount, 0) as lines_amount,
        commandes.order_comment,
        commandes.updated_at
    from commandes
    left join lines on commandes.order_id = lines.order_id

)

select * from final
