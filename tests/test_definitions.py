"""The code location loads, validates, and takes every connection from the environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg

from shutter_assets.defs.resources import build_resources
from tests.fixtures.local_platform import load_defs
from tests.fixtures.settings import all_variables

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_load_with_the_shared_resources():
    defs = load_defs()
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
    monkeypatch.setenv("LOGS_BATCH_SIZE", "7")
    resources = load_defs().resources
    assert resources["warehouse"].settings.dbname == "warehouse_from_env"
    assert resources["legacy_orders"].settings.port == 3307
    assert resources["log_drop"].settings.protocol == "sftp"
    assert resources["log_drop"].settings.insecure_accept_any_host_key is True
    assert resources["plant"].timezone == "America/Montreal"
    assert resources["machine_logs"].batch_size == 7


def test_unset_environment_falls_back_to_documented_local_defaults():
    resources = build_resources({})
    assert resources["warehouse"].settings.dbname == "shutter_dw"
    assert resources["warehouse"].settings.host == "127.0.0.1"
    assert resources["log_drop"].settings.protocol == "local"
    assert resources["log_drop"].settings.insecure_accept_any_host_key is False
    assert resources["plant"].timezone == "Europe/Paris"  # DESIGN.md section 3


def test_env_example_documents_every_variable_the_settings_read():
    documented = set(env_example())
    read = all_variables()
    assert {"POSTGRES_HOST", "FTP_PROTOCOL", "LOGS_BATCH_SIZE", "API_KEYS"} <= read
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_no_secret_reaches_dagster_config():
    """Settings resources are plain objects (no config schema): the UI has no password to show."""
    resources = load_defs().resources or {}
    assert not isinstance(resources["warehouse"], dg.ConfigurableResource)
    for key, resource in resources.items():
        if isinstance(resource, dg.ConfigurableResource):  # dbt's and alerting's
            names = [n for n in type(resource).model_fields if re.search("password|secret", n)]
            assert not names, (key, names)


def test_jobs_carry_the_tags_the_run_queue_limits():
    """dagster.yaml allows one run per pipeline tag; an untagged job would escape the limit."""
    import yaml

    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    limits = instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    limited = {lim["value"] for lim in limits if lim["key"] == "shutter/pipeline"}
    defs = load_defs()
    tagged = {
        "legacy_orders_sync_job": "legacy_orders",
        "reprocess_log_file": "machine_logs",
        "machine_logs_to_marts": "machine_logs",
    }
    for job_name, pipeline in tagged.items():
        job = defs.resolve_job_def(job_name)
        assert job.tags.get("shutter/pipeline") == pipeline, job_name
        assert pipeline in limited
    sensor = defs.resolve_sensor_def("dbt_automation_sensor")
    assert sensor.run_tags.get("shutter/pipeline") in limited
    # Every run that runs dbt build carries the one tag limited to a single build at a time.
    builds = [(lim["key"], lim.get("value"), lim["limit"]) for lim in limits]
    assert ("shutter/dbt", "build", 1) in builds
    job = defs.resolve_job_def("machine_logs_to_marts")
    for tags in (sensor.run_tags, job.tags):
        assert tags.get("shutter/dbt") == "build"
    # the log sensor's builds skip the per-model metadata queries (latency), the others keep them
    assert job.tags.get("shutter/dbt_table_metadata") == "false"
    assert "shutter/dbt_table_metadata" not in sensor.run_tags
    assert defs.resolve_sensor_def("machine_logs_sensor").job_name == "machine_logs_to_marts"
    dbt_keys = {k for k in job.asset_layer.selected_asset_keys if k.path[0] == "marts"}
    assert dg.AssetKey(["marts", "machine_oee_daily"]) in dbt_keys
