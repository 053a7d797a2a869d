"""machine_logs_sensor and the raw/machine_events asset end to end, against vsftpd and sshd.

The drop is filled by the plant simulator (every messy reality) and the loaded counts are compared
with the simulator's truth, which never comes from re-parsing the files.
"""

from __future__ import annotations

import json
import math
import os
import time

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from shutter_assets.defs.machine_logs.assets import INGEST_OP, ingest_machine_logs
from shutter_assets.defs.machine_logs.checks import reject_rate
from shutter_assets.defs.machine_logs.jobs import reprocess_log_file
from shutter_assets.defs.machine_logs.sensor import machine_logs_sensor
from shutter_assets.lib.plant import PlantSettings
from shutter_assets.simulator.logs import Mess, write_logs
from tests.fixtures.machine_logs import dagster_resources, log_bytes

SEED = 20261120


def tick(resources: dict, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, resources=resources)
    return machine_logs_sensor(context)


def requested_paths(result: dg.SensorResult) -> list[str]:
    return [
        p for r in result.run_requests for p in r.run_config["ops"][INGEST_OP]["config"]["paths"]
    ]


def chown_tree(root, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid)


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["ftp", "ftps", "sftp"])
def test_sensor_on_simulated_drop_loads_exactly_the_truth(protocol, pg_settings, make_drop):
    drop = make_drop(protocol)
    truth = write_logs(
        drop.root, SEED, days=1, mess=Mess.all(), subfolders=True, leave_pending=True
    )
    chown_tree(drop.root, drop.uid, drop.gid)
    res = dagster_resources(pg_settings, drop.settings(), batch_size=4, min_age_s=0)
    growing = truth.growing.path.relative_to(drop.root).as_posix()
    pending = truth.pending.path.relative_to(drop.root).as_posix()
    all_paths = {f.path for f in truth.files}

    first = tick(res, None)
    assert first.run_requests == []  # nothing is settled before a second look

    time.sleep(1.1)  # FTP mtimes have one-second resolution
    truth.growing.finish()
    second = tick(res, first.cursor)
    settled = all_paths - {growing, pending}
    assert sorted(requested_paths(second)) == sorted(settled)
    assert len(second.run_requests) == math.ceil(len(settled) / 4)
    assert len({r.run_key for r in second.run_requests}) == len(second.run_requests)

    truth.pending.rename()
    chown_tree(drop.root, drop.uid, drop.gid)
    third = tick(res, second.cursor)
    assert requested_paths(third) == [growing]  # stopped growing; the renamed file is new

    fourth = tick(res, third.cursor)
    assert requested_paths(fourth) == [pending]
    fifth = tick(res, fourth.cursor)
    assert fifth.run_requests == []  # a repeated tick requests nothing

    instance = dg.DagsterInstance.ephemeral()
    for request in [*second.run_requests, *third.run_requests, *fourth.run_requests]:
        result = dg.materialize(
            [ingest_machine_logs, reject_rate],
            run_config=request.run_config,
            resources=res,
            instance=instance,
        )
        assert result.success
        (check,) = result.get_asset_check_evaluations()
        assert check.passed

    with pg_settings.connect() as conn:
        events = conn.execute("select count(*) from raw.machine_events").fetchone()[0]
        rejects = conn.execute("select count(*) from raw.machine_event_rejects").fetchone()[0]
        statuses = dict(conn.execute("select path, status from raw.ingested_files").fetchall())
        qty = dict(
            conn.execute(
                "select machine_id || '/' || event_type, sum(value_num)::int "
                "from raw.machine_events where event_type in ('CYCLE_END', 'SCRAP') group by 1"
            ).fetchall()
        )
        instants = conn.execute(
            "select e.line_no, e.event_at from raw.machine_events e "
            "join raw.ingested_files f using (file_id) where f.path = %s order by e.line_no",
            (next(f.path for f in truth.files if "dst" in f.features),),
        ).fetchall()
    assert events == truth.accepted_total
    assert rejects == truth.rejected_total
    assert statuses == {f.path: "duplicate" if f.duplicate_of else "loaded" for f in truth.files}
    expected_qty = {}
    for machine_id, totals in truth.totals().items():
        if totals.produced_qty:
            expected_qty[f"{machine_id}/CYCLE_END"] = totals.produced_qty
        if totals.scrap_qty:
            expected_qty[f"{machine_id}/SCRAP"] = totals.scrap_qty
    assert qty == expected_qty
    dst = next(f for f in truth.files if "dst" in f.features)
    assert instants == [(e.line_no, e.instant) for e in dst.events]

    after = tick(res, fifth.cursor)
    assert after.run_requests == []
    assert json.loads(after.cursor) == {"v": 3, "seen": {}, "req": {}}  # nothing kept for history


@pytest.mark.integration
def test_backlog_becomes_ceil_n_over_batch_runs_with_stable_keys(pg_settings, make_drop):
    drop = make_drop("sftp")
    for i in range(23):
        drop.put(f"CU-01/CU-01_20261120_{i:06d}.log", log_bytes(3), mtime=1_763_600_000 + i)
    drop.put("CU-01/CU-01_20261120_999999.log.part", log_bytes(3))
    drop.put("CU-01/CU-01_20261120_999998.log.tmp", log_bytes(3))
    res = dagster_resources(pg_settings, drop.settings(), batch_size=10, min_age_s=0)
    first = tick(res, None)
    second = tick(res, first.cursor)
    assert [
        len(r.run_config["ops"][INGEST_OP]["config"]["paths"]) for r in second.run_requests
    ] == [
        10,
        10,
        3,
    ]
    # The same observations from the same cursor give the same run keys: a repeated tick after
    # a crash before the cursor was saved is deduplicated by Dagster.
    replay = tick(res, first.cursor)
    assert [r.run_key for r in replay.run_requests] == [r.run_key for r in second.run_requests]
    assert len(second.cursor) < 23 * 30


@pytest.mark.integration
def test_min_age_holds_back_files_seen_recently(pg_settings, make_drop):
    drop = make_drop("ftp")
    drop.put("CU-01_20261120_060000.log", log_bytes(3))
    res = dagster_resources(pg_settings, drop.settings(), min_age_s=3600)
    first = tick(res, None)
    second = tick(res, first.cursor)
    assert second.run_requests == []
    assert "1 waiting" in second.skip_reason.skip_message


@pytest.mark.integration
def test_no_new_run_is_requested_while_one_waits_in_the_run_queue(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(3))
    drop.put("CU-02_20261120_060000.log", log_bytes(3))
    res = dagster_resources(pg_settings, drop.settings(), min_age_s=0)
    with dg.instance_for_test() as instance:

        def sensor_tick(cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(cursor=cursor, resources=res, instance=instance)
            return machine_logs_sensor(context)

        job_name = "machine_logs_to_marts"
        location = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="shutter_assets.definitions")
        )
        queued = instance.add_run(
            dg.DagsterRun(
                job_name=job_name,
                run_id="0" * 36,
                status=dg.DagsterRunStatus.NOT_STARTED,
                tags={"dagster/sensor_name": "machine_logs_sensor"},
                remote_job_origin=RemoteJobOrigin(
                    RemoteRepositoryOrigin(location, "__repository__"), job_name
                ),
            )
        )
        enqueued = dg.DagsterEvent(dg.DagsterEventType.RUN_ENQUEUED.value, job_name=job_name)
        instance.report_dagster_event(enqueued, queued.run_id)
        assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.QUEUED
        first = sensor_tick(None)
        held = sensor_tick(first.cursor)
        assert held.run_requests == []
        assert "2 settled file(s) held" in held.skip_reason.skip_message
        instance.report_run_canceled(queued)  # the queue moved (the run left it)
        after = sensor_tick(held.cursor)
    assert sorted(requested_paths(after)) == [
        "CU-01_20261120_060000.log",
        "CU-02_20261120_060000.log",
    ]
    assert len(after.run_requests) == 1


@pytest.mark.integration
def test_materialize_by_hand_ingests_every_settled_file_and_reprocess_job(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(8, extra="bad line\n"), mtime=1_763_600_000)
    drop.put("CU-01_20261120_140000.log", log_bytes(4, hour=14), mtime=1_763_600_000)
    drop.put("CU-01_20261120_220000.log.part", log_bytes(4))
    res = dagster_resources(pg_settings, drop.settings(), min_age_s=60)
    result = dg.materialize(  # as `dagster asset materialize --select raw/machine_events`
        [ingest_machine_logs, reject_rate], resources=res, selection="raw/machine_events"
    )
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {
        "raw/machine_events",
        "raw/machine_event_rejects",
        "raw/ingested_files",
    }
    mats = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node(INGEST_OP)
    }
    meta = mats["raw/machine_events"]
    assert (meta["files_loaded"].value, meta["rows"].value, meta["rejects"].value) == (2, 12, 1)
    assert meta["duplicates"].value == 0
    assert "CU-01_20261120_060000.log" in meta["preview"].value
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed  # 1 reject in 9 lines is over the 5 % default
    assert check.metadata["files_over_limit"].value == 1

    drop.put("CU-01_20261120_060000.log", log_bytes(9), mtime=1_763_600_000)
    job = dg.Definitions(jobs=[reprocess_log_file], resources=res).get_job_def("reprocess_log_file")
    run = job.execute_in_process(
        run_config={
            "ops": {"reprocess_log_file_op": {"config": {"path": "CU-01_20261120_060000.log"}}}
        }
    )
    assert run.success
    with pg_settings.connect() as conn:
        assert conn.execute("select count(*) from raw.machine_events").fetchone()[0] == 13
        assert conn.execute("select count(*) from raw.machine_event_rejects").fetchone()[0] == 0
        assert conn.execute(  # the reprocessed file's earlier version stays, superseded
            "select status, count(*) from raw.ingested_files group by 1 order by 1"
        ).fetchall() == [("loaded", 2), ("superseded", 1)]


def test_a_file_that_cannot_be_loaded_fails_the_run_and_is_named(pg_settings, make_drop):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(3), mtime=1_763_600_000)
    # a typo in PLANT_TIMEZONE
    res = dagster_resources(pg_settings, drop.settings(), PlantSettings(timezone="Europe/Pariss"))
    result = dg.materialize([ingest_machine_logs], resources=res, raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "CU-01_20261120_060000.log" in failure.step_failure_data.error.message
    meta = result.asset_materializations_for_node(INGEST_OP)[0].metadata
    assert (meta["files_failed"].value, meta["files_loaded"].value) == (1, 0)
    with pg_settings.connect() as conn:
        assert conn.execute("select count(*) from raw.ingested_files").fetchone()[0] == 0


@pytest.mark.integration
def test_sensor_logs_unreadable_names_once_per_tick_and_requests_the_other_files(
    pg_settings, make_drop, capsys
):
    drop = make_drop("local")
    drop.put("CU-01_20261120_060000.log", log_bytes(3))
    with open(os.path.join(os.fsencode(drop.root), b"Relev\xe9 production.txt"), "wb") as out:
        out.write(b"dropped by a person from Windows")
    res = dagster_resources(pg_settings, drop.settings(), min_age_s=0)

    capsys.readouterr()
    first = tick(res, None)
    time.sleep(1.1)
    second = tick(res, first.cursor)

    assert requested_paths(second) == ["CU-01_20261120_060000.log"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "cannot be used" in line]
    assert len(warnings) == 2  # once per tick
    assert " - WARNING - 1 name(s) in the log drop cannot be used" in warnings[0]
    assert "'Relev\\\\xe9 production.txt' (the name is not UTF-8)" in warnings[0]
