{#-
    Average changeover per machine and ISO week (Monday of the plant-local week of the
    changeover's start): the sum of changeover_s over the count, never an average of averages.
-#}
with

changeovers as (

    select
        machine_id,
        date_trunc('week', changeover_date)::date as week_start_date,
        changeover_s
    from {{ ref('changeovers') }}

),

final as (

    select
        machine_id,
        week_start_date,
        {{ as_count('count(*)') }} as changeover_count,
        {{ as_seconds('sum(changeover_s)') }} as changeover_s,
        {{ as_seconds(safe_ratio('sum(changeover_s)', 'count(*)')) }} as avg_changeover_s
    from changeovers
    group by machine_id, week_start_date

)

select * from final
