with

clients as (

    select
        id_client,
        raison_sociale,
        ville,
        code_postal,
        email,
        date_creation,
        date_maj,
        _synced_at,
        _deleted_at
    from {{ source('raw_commandes', 'clients') }}

),

final as (

    select
        id_client as customer_id,
        trim(raison_sociale) as customer_name,
        trim(ville) as city,
        trim(code_postal) as postal_code,
        lower(trim(email)) as email,
        date_creation as created_at_local,
        date_maj as updated_at,
        _synced_at as synced_at
    from clients
    where _deleted_at is null

)

select * from final
