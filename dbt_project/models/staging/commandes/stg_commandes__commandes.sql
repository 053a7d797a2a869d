with

commandes as (

    select
        id_commande,
        numero,
        id_client,
        date_commande,
        date_livraison_prevue,
        statut,
        montant_ht,
        commentaire,
        date_maj,
        _synced_at,
        _deleted_at
    from {{ source('raw_commandes', 'commandes') }}

),

final as (

    select
        id_commande as order_id,
        trim(numero) as order_number,
        id_client as customer_id,
        date_commande as ordered_at_local,
        date_livraison_prevue as planned_delivery_date,
        statut as order_status,
        montant_ht::numeric(12, 2) as amount_excl_tax,
        commentaire as order_comment,
        date_maj as updated_at,
        _synced_at as synced_at
    from commandes
    where _deleted_at is null

)

select * from final
