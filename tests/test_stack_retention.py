"""Bounded disk use: dbt invocation folders, captured run and tick logs, run history, the drop's
archive.

Each artifact the platform writes is produced for real (dbt through the Dagster asset, runs
through a Dagster instance, files in an archive folder) and then pruned by the code the stack
runs; ``bench/disk_growth.py`` shows the totals staying flat over many runs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.sensor import execute_sensor_iteration

from shutter_assets.defs.dbt.assets import shutter_dbt
from shutter_assets.defs.dbt.project import dbt_project
from shutter_assets.defs.housekeeping.purge import purge_history_job, purge_runs
from shutter_assets.defs.resources import as_resources
from shutter_assets.lib.retention import RetentionSettings, prune_dbt_targets, tree_size
from tests.fixtures.settings import use_settings

ROOT = Path(__file__).resolve().parents[1]


def make_target(folder: Path, age_s: float, size: int = 1000) -> Path:
    folder.mkdir(parents=True)
    (folder / "dbt.log").write_bytes(b"x" * size)
    then = time.time() - age_s
    for p in (folder / "dbt.log", folder):
        os.utime(p, (then, then))
    return folder


def test_prune_dbt_targets_keeps_the_most_recent_and_the_current(tmp_path):
    old = [make_target(tmp_path / f"shutter_dbt-run{i}-abc", 1000 + i) for i in range(5)]
    # another build still writing: an old folder whose dbt.log just moved
    active = make_target(tmp_path / "shutter_dbt-active-abc", 5000)
    (active / "dbt.log").write_text("still running")
    current = make_target(tmp_path / "shutter_dbt-current-abc", 9000)
    other = make_target(tmp_path / "other_op-run-abc", 9000)  # another op's folders: not ours
    removed = prune_dbt_targets(tmp_path, "shutter_dbt", keep=3, current=current)
    remaining = {p.name for p in tmp_path.iterdir()}
    assert remaining == {current.name, active.name, old[0].name, other.name}
    assert {p.name for p in removed} == {p.name for p in old[1:]}
    with pytest.raises(ValueError, match="DBT_TARGET_KEEP"):
        prune_dbt_targets(tmp_path, "shutter_dbt", keep=-1)


@pytest.mark.integration
def test_dbt_builds_leave_at_most_dbt_target_keep_invocation_folders(pg_settings, monkeypatch):
    """The real asset, twice with DBT_TARGET_KEEP=1: the first build's folder is gone.

    Only one seed, without its checks, so each build is short."""
    use_settings(monkeypatch, pg_settings)
    from dagster_dbt import DbtCliResource

    from shutter_assets.defs.dbt.project import DBT_EXECUTABLE

    target = dbt_project.project_dir / "target"
    resources = {
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        **as_resources(RetentionSettings(dbt_target_keep=1)),
    }
    seed = dg.AssetSelection.assets(["staging", "machine_types"]).without_checks()
    runs = []
    for _ in range(2):
        result = dg.materialize([shutter_dbt], resources=resources, selection=seed)
        assert result.success
        runs.append(result.run_id[:7])
        folders = list(target.glob("shutter_dbt-*"))
        # only this build's folder, its artifacts and dbt.log, is left
        assert [f.name.split("-")[1] for f in folders] == [runs[-1]], folders
        assert (folders[0] / "dbt.log").exists() and (folders[0] / "run_results.json").exists()


@dg.op
def chatty() -> None:
    print("x" * 10_000)  # captured stdout, as a run's compute log


@dg.job
def chatty_job() -> None:
    chatty()


def local_compute_logs(base: Path) -> dict:
    """Instance overrides capturing compute logs as files under ``base``, where the tests look."""
    return {
        "compute_logs": {
            "module": "dagster.core.storage.local_compute_log_manager",
            "class": "LocalComputeLogManager",
            "config": {"base_dir": str(base)},
        }
    }


def compute_log_runs(base: Path) -> set[str]:
    return {p.name for p in base.iterdir() if p.is_dir()} if base.exists() else set()


def test_purge_history_deletes_old_runs_and_their_captured_logs(tmp_path):
    logs = tmp_path / "compute_logs"
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(
        overrides=local_compute_logs(logs), temp_dir=str(tmp_path / "home")
    ) as instance:
        run_ids = []
        for _ in range(3):
            result = chatty_job.execute_in_process(instance=instance)
            assert result.success
            run_ids.append(result.run_id)
        assert set(run_ids) <= compute_log_runs(logs), "runs captured no compute logs"
        assert tree_size(logs) >= 3 * 10_000

        # The daily job with the shipped run retention keeps fresh runs; captured logs idle
        # longer than DAGSTER_COMPUTE_LOG_RETENTION_DAYS (0 here) go.
        purge = purge_history_job.execute_in_process(
            instance=instance, resources=as_resources(RetentionSettings(compute_log_days=0))
        )
        assert purge.success
        remaining = compute_log_runs(logs)
        assert not set(run_ids) & remaining
        assert all(instance.get_run_by_id(r) for r in run_ids)

        # Past the run retention, the runs and their event logs leave the database.
        assert purge_runs(instance, days=0) == 4  # the three runs and the purge itself
        assert not any(instance.get_run_by_id(r) for r in run_ids)
        assert not instance.all_logs(run_ids[0])
        assert compute_log_runs(logs) == set()


def age(path: Path, days: float) -> None:
    then = time.time() - days * 86_400
    os.utime(path, (then, then))


def test_purge_history_deletes_old_tick_logs_of_a_real_sensor(tmp_path):
    """The sensor daemon's own iterations tick a sensor that logs; its captured logs
    (``__repository__/<sensor>/<tick>.err``) older than the retention go, fresh ones stay."""
    logs = tmp_path / "compute_logs"
    target = ModuleTarget(
        module_name="tests.fixtures.ticking_location",
        attribute="defs",
        working_directory=str(ROOT),
        location_name="ticking_test",
    )
    (tmp_path / "home").mkdir()
    clock = datetime.now(UTC)
    with (
        dg.instance_for_test(
            overrides=local_compute_logs(logs), temp_dir=str(tmp_path / "home")
        ) as instance,
        create_test_daemon_workspace_context(target, instance) as workspace,
    ):
        for _ in range(4):  # each past the sensor's minimum interval
            clock += timedelta(seconds=60)
            with freeze_time(clock):
                list(execute_sensor_iteration(workspace, logging.getLogger("ticks"), None, None))
        [state] = instance.all_instigator_state()
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        assert len(ticks) == 4 and all(t.log_key for t in ticks), ticks
        files = sorted((logs / "__repository__" / "chatty_sensor").glob("*.err"))
        assert [f.stem for f in files] == sorted(str(t.tick_id) for t in ticks)
        assert all(f.stat().st_size >= 2000 for f in files)
        # the log the UI's "View logs" shows comes from that file
        assert instance.compute_log_manager.get_log_data(ticks[0].log_key).stderr
        for f in files[:3]:
            age(f, 20)

        # Past DAGSTER_COMPUTE_LOG_RETENTION_DAYS (14): the three old ones; a run's folder kept.
        chatty_job.execute_in_process(instance=instance)
        purge = purge_history_job.execute_in_process(
            instance=instance, resources={"retention": RetentionSettings(compute_log_days=14)}
        )
        assert purge.success
        left = sorted((logs / "__repository__" / "chatty_sensor").glob("*.err"))
        assert left == files[3:]
        assert len(compute_log_runs(logs) - {"__repository__"}) == 2  # the job and the purge

        # All of them once old enough, with the folders they leave empty.
        age(left[0], 20)
        purge_history_job.execute_in_process(
            instance=instance, resources={"retention": RetentionSettings(compute_log_days=14)}
        )
        assert not list((logs / "__repository__").rglob("*.err"))
        assert not (logs / "__repository__" / "chatty_sensor").exists()


def test_purge_history_refuses_a_zero_run_retention(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = purge_history_job.execute_in_process(
            instance=instance,
            resources=as_resources(RetentionSettings(run_days=0)),
            raise_on_error=False,
        )
    assert not result.success


def test_the_daily_purge_is_scheduled_and_retention_is_configured_for_every_tick_type():
    import yaml

    from shutter_assets.definitions import defs

    schedule = defs().resolve_schedule_def("purge_history_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "purge_history"
    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    for kind in ("schedule", "sensor", "auto_materialize"):
        assert instance["retention"][kind]["purge_after_days"], kind


def archive_file(root: Path, rel: str, age_days: float) -> Path:
    path = root / "archive" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("log")
    then = time.time() - age_days * 86_400
    os.utime(path, (then, then))
    return path


def prune_archive(logs: Path, days: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "docker/vsftpd/prune-archive.sh"), str(logs), days],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_ftp_server_prunes_only_old_archived_files(tmp_path):
    logs = tmp_path / "logs"
    old = archive_file(logs, "CU-01/CU-01_20260101_060000.log", 100)
    recent = archive_file(logs, "CU-02_20261101_060000.log", 10)
    pending = logs / "CU-03_20250101_060000.log"  # never loaded: not in archive/
    pending.write_text("log")
    os.utime(pending, (0, 0))
    result = prune_archive(logs, "90")
    assert result.returncode == 0, result.stderr
    assert "1 file(s)" in result.stdout
    assert not old.exists() and not old.parent.exists()  # emptied machine folder goes too
    assert recent.exists() and pending.exists()
    # 0 keeps everything; a typo is refused rather than deleting by a wrong age
    assert prune_archive(logs, "0").returncode == 0 and recent.exists()
    assert prune_archive(logs, "9O").returncode != 0
    # and the entrypoint runs it with the compose setting, at start and daily
    entrypoint = (ROOT / "docker/vsftpd/entrypoint.sh").read_text()
    assert 'prune-archive.sh /srv/ftp/logs "$days"' in entrypoint
    assert "FTP_ARCHIVE_RETENTION_DAYS" in entrypoint
