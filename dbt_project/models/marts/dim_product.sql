{#- Products of the catalogue with, when the product is also an NC program, its PRU. -#}
with

produits as (

    select
        product_id,
        product_reference,
        product_label,
        slat_type,
        motorization,
        price_per_m2,
        is_active
    from {{ ref('stg_commandes__produits') }}

),

programs as (

    select
        program,
        ideal_s_per_part
    from {{ ref('programs') }}

),

final as (

    select
        produits.product_id,
        produits.product_reference,
        produits.product_label,
        produits.slat_type,
        produits.motorization,
        produits.price_per_m2,
        produits.is_active,
        programs.ideal_s_per_part as assembly_ideal_s_per_part
    from produits
    left join programs on produits.product_reference = programs.program

)

select * from final
