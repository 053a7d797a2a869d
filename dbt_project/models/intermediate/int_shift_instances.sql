{#-
    The shift calendar expanded into shift instances (DESIGN.md s.6): one row per shift code and
    plant-local day it starts on, with its true start and end instants in the plant's zone (var
    plant_timezone / env PLANT_TIMEZONE). A night shift is one instance dated by the day it
    starts; across the autumn change it lasts 9 true hours, across the spring change 7.

    A small table rebuilt on every run over the days of vars calendar_first_date ..
    calendar_last_date (about 800 rows a year for a 3x8 calendar).
-#}
{{
    config(
        materialized='table',
        indexes=[{'columns': ['started_at']}, {'columns': ['ended_at']}],
    )
}}

with

template as (

    select
        shift_code,
        string_to_array(trim(weekdays), ' ')::int[] as iso_weekdays,
        local_start::time as local_start,
        local_end::time as local_end
    from {{ ref('shift_calendar') }}

),

days as (

    select calendar_day::date as shift_date
    from {{ calendar_days() }}

),

instances as (

    select
        template.shift_code,
        days.shift_date,
        {{ local_instant('days.shift_date', 'template.local_start') }} as started_at,
        {{ local_instant(
            'days.shift_date + (template.local_end <= template.local_start)::int',
            'template.local_end') }} as ended_at
    from days
    inner join template
        on extract(isodow from days.shift_date)::int = any(template.iso_weekdays)

),

final as (

    select
        shift_code,
        shift_date,
        started_at,
        ended_at,
        {{ seconds_between('started_at', 'ended_at') }} as shift_s
    from instances

)

select * from final
