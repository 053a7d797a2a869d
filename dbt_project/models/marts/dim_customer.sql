with

clients as (

    select
        customer_id,
        customer_name,
        city,
        postal_code,
        email,
        created_at_local,
        updated_at
    from {{ ref('stg_commandes__clients') }}

),

final as (

    select
        customer_id,
        customer_name,
        city,
        postal_code,
        email,
        created_at_local,
        updated_at
    from clients

)

select * from final
