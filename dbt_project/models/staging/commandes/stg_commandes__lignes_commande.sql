with

lignes as (

    select
        id_ligne,
        id_commande,
        id_produit,
        largeur_mm,
        hauteur_mm,
        coloris,
        quantite,
        prix_unitaire,
        date_maj,
        _synced_at,
        _deleted_at
    from {{ source('raw_commandes', 'lignes_commande') }}

),

final as (

    select
        id_ligne as order_line_id,
        id_commande as order_id,
        id_produit as product_id,
        largeur_mm as width_mm,
        hauteur_mm as height_mm,
        trim(coloris) as color,
        quantite as quantity,
        prix_unitaire::numeric(10, 2) as unit_price,
        (quantite * prix_unitaire)::numeric(14, 2) as line_amount,
        date_maj as updated_at,
        _synced_at as synced_at
    from lignes
    where _deleted_at is null

)

select * from final
