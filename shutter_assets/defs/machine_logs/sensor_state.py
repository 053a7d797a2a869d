"""What the machine-log sensor and its runs know of each other, read from the Dagster instance.

The sensor's cursor records when it first saw each waiting file version (``log_selection``); a
run it requested reads it when it starts, to also load the files settled while it waited in the
queue. The sensor, in turn, requests nothing while one of its runs has not finished loading
(queued, or started and still before the end of its load step), so a file such a run takes is
never requested twice.
"""

import dagster as dg

SENSOR_NAME = "machine_logs_sensor"
INGEST_OP = "ingest_machine_logs"
_QUEUED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
_RUNNING = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
_LOAD_DONE = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}


def sensor_cursor(instance: dg.DagsterInstance) -> str | None:
    """The machine-log sensor's cursor; None on an instance that keeps no sensor state (an
    ephemeral one, as in ``materialize`` or ``execute_in_process``), where no sensor ever ran."""
    if instance.schedule_storage is None:
        return None
    return next(
        (
            state.instigator_data.cursor
            for state in instance.all_instigator_state()
            if state.instigator_name == SENSOR_NAME and state.instigator_data is not None
        ),
        None,
    )


def run_before_its_load(instance: dg.DagsterInstance) -> bool:
    """True while a run the sensor requested is queued, or started and its load step
    (``INGEST_OP``) has not ended yet."""
    mine = {"dagster/sensor_name": SENSOR_NAME}
    if instance.get_run_ids(filters=dg.RunsFilter(tags=mine, statuses=_QUEUED), limit=1):
        return True
    for run_id in instance.get_run_ids(filters=dg.RunsFilter(tags=mine, statuses=_RUNNING)):
        ended = any(
            record.event_log_entry.step_key == INGEST_OP
            for kind in _LOAD_DONE
            for record in instance.get_records_for_run(run_id, of_type=kind).records
        )
        if not ended:
            return True
    return False
