with

produits as (

    select
        id_produit,
        reference,
        libelle,
        type_lame,
        motorisation,
        prix_m2,
        actif,
        _synced_at,
        _deleted_at
    from {{ source('raw_commandes', 'produits') }}

),

final as (

    select
        id_produit as product_id,
        trim(reference) as product_reference,
        trim(libelle) as product_label,
        type_lame as slat_type,
        motorisation as motorization,
        prix_m2::numeric(10, 2) as price_per_m2,
        -- TINYINT(1) mirrored as an integer: any non-zero value is active, as in MySQL;
        -- values other than 0 and 1 make the source test on actif warn.
        coalesce(actif <> 0, false) as is_active,
        _synced_at as synced_at
    from produits
    where _deleted_at is null

)

select * from final
