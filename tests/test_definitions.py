"""The code location loads, validates, and takes every connection from the environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg

from shutter_assets.defs.resources import build_resources

ROOT = Path(__file__).resolve().parents[1]


def _load_defs() -> dg.Definitions:
    from shutter_assets.definitions import defs

    return defs() if callable(defs) else defs


def test_definitions_load_with_the_shared_resources():
    defs = _load_defs()
    resources = defs.resources or {}
    for key in ("warehouse", "legacy_orders", "log_drop", "plant"):
        assert key in resources, f"resource {key!r} missing from the Definitions"


def env_example() -> dict[str, str]:
    """The documented local defaults, as `make` loads them before any command."""
    pairs = (
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def test_dagster_definitions_validate_passes(tmp_path):
    # An empty DAGSTER_HOME: validation needs no instance, and without it dagster would read the
    # repo's dagster.yaml and want the PostgreSQL storage database to exist.
    env = {**env_example(), **os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "shutter_assets.definitions",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_resources_read_the_environment(monkeypatch):
    monkeypatch.setenv("POSTGRES_DB", "warehouse_from_env")
    monkeypatch.setenv("MYSQL_PORT", "3307")
    monkeypatch.setenv("FTP_PROTOCOL", "sftp")
    monkeypatch.setenv("SFTP_INSECURE_ACCEPT_ANY_HOST_KEY", "1")
    monkeypatch.setenv("PLANT_TIMEZONE", "America/Montreal")
    resources = build_resources()
    warehouse = resources["warehouse"].process_config_and_initialize()
    legacy = resources["legacy_orders"].process_config_and_initialize()
    drop = resources["log_drop"].process_config_and_initialize()
    plant = resources["plant"].process_config_and_initialize()
    assert warehouse.settings.dbname == "warehouse_from_env"
    assert legacy.settings.port == 3307
    assert drop.settings.protocol == "sftp"
    assert drop.settings.insecure_accept_any_host_key is True
    assert plant.timezone == "America/Montreal"


def test_unset_environment_falls_back_to_documented_local_defaults(monkeypatch):
    for name in (
        "POSTGRES_DB",
        "POSTGRES_HOST",
        "FTP_PROTOCOL",
        "SFTP_INSECURE_ACCEPT_ANY_HOST_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    resources = build_resources()
    warehouse = resources["warehouse"].process_config_and_initialize()
    drop = resources["log_drop"].process_config_and_initialize()
    assert warehouse.settings.dbname == "shutter_dw"
    assert warehouse.settings.host == "127.0.0.1"
    assert drop.settings.protocol == "local"
    assert drop.settings.insecure_accept_any_host_key is False


def test_env_example_documents_every_variable_the_resources_read():
    documented = set(env_example())
    source = (ROOT / "shutter_assets" / "defs" / "resources.py").read_text()
    read = set(re.findall(r'_env(?:_int)?\("([A-Z_]+)"', source))
    assert read, "no environment variables found in resources.py"
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_jobs_carry_the_tags_the_run_queue_limits():
    """dagster.yaml allows one run per pipeline tag; an untagged job would escape the limit."""
    import yaml

    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    limits = instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    limited = {lim["value"] for lim in limits if lim["key"] == "shutter/pipeline"}
    defs = _load_defs()
    tagged = {
        "legacy_orders_sync_job": "legacy_orders",
        "reprocess_log_file": "machine_logs",
    }
    for job_name, pipeline in tagged.items():
        job = defs.resolve_job_def(job_name)
        assert job.tags.get("shutter/pipeline") == pipeline, job_name
        assert pipeline in limited
    sensor = defs.resolve_sensor_def("dbt_automation_sensor")
    assert sensor.run_tags.get("shutter/pipeline") in limited
