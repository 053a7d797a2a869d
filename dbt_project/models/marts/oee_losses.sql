{#-
    The six big losses in seconds (DESIGN.md s.6), per machine, plant-local day and shift instance
    (shift_code 'NO_SHIFT': time outside every shift), closing exactly on every row:

        planned_busy_s - breakdown_s - setup_s - minor_stop_s - speed_loss_s
            - startup_reject_s - production_reject_s = ideal_good_s

    Breakdowns are DOWN stops of at least var microstop_threshold_s (default 120 s); minor stops
    are every IDLE second plus DOWN stops shorter than it; a stop is classified by its whole
    duration wherever midnight, a shift edge or a file boundary splits it. Planned downtime is
    outside PBT and so in no loss. speed_loss_s = run_s - ideal_run_s, negative when the programs
    seed's PRU is slower than the machine (is_speed_loss_negative flags it; never clipped).
    Reject losses are the ideal time (PRU) of the scrapped parts: startup rejects within var
    startup_window_s (default 600 s) after a SETUP -> RUNNING transition, production rejects the
    rest. Sum the rows for a day or a shift: every sum closes too.
-#}
with

components as (

    select
        machine_id,
        production_date,
        coalesce(shift_date, production_date) as shift_date,
        coalesce(shift_code, 'NO_SHIFT') as shift_code,
        sum(run_s) as run_s,
        sum(setup_s) as setup_s,
        sum(down_s) as down_s,
        sum(idle_s) as idle_s,
        sum(breakdown_s) as breakdown_s,
        sum(breakdown_count) as breakdown_count,
        sum(minor_stop_s) as minor_stop_s,
        sum(microstop_s) as microstop_s,
        sum(microstop_count) as microstop_count,
        sum(ideal_run_s) as ideal_run_s,
        sum(startup_reject_ideal_s) as startup_reject_s,
        sum(scrap_ideal_s - startup_reject_ideal_s) as production_reject_s,
        sum(good_ideal_s) as ideal_good_s
    from {{ ref('int_machine_shift_components') }}
    group by 1, 2, 3, 4

),

final as (

    select
        machine_id,
        production_date,
        shift_date,
        shift_code,
        {{ as_seconds('run_s + setup_s + down_s + idle_s') }} as planned_busy_s,
        {{ as_seconds('breakdown_s') }} as breakdown_s,
        {{ as_count('breakdown_count') }} as breakdown_count,
        {{ as_seconds('setup_s') }} as setup_s,
        {{ as_seconds('minor_stop_s') }} as minor_stop_s,
        {{ as_seconds('microstop_s') }} as microstop_s,
        {{ as_count('microstop_count') }} as microstop_count,
        {{ as_seconds('run_s') }} as run_s,
        {{ as_seconds('ideal_run_s') }} as ideal_run_s,
        {{ as_seconds('run_s - ideal_run_s') }} as speed_loss_s,
        run_s < ideal_run_s as is_speed_loss_negative,
        {{ as_seconds('startup_reject_s') }} as startup_reject_s,
        {{ as_seconds('production_reject_s') }} as production_reject_s,
        {{ as_seconds('ideal_good_s') }} as ideal_good_s
    from components

)

select * from final
