"""dbt never reports usage to its vendor from the plant: the project flag, wherever dbt runs.

Dagster's dbt resource happens to set ``DBT_SEND_ANONYMOUS_USAGE_STATS=false`` for its own
invocations, but ``make prepare``, the image's ``dbt parse`` and an operator's shell do not; the
flag lives in ``dbt_project.yml`` so every invocation on this project reads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "dbt_project"

PROBE = """
import sys
from dbt.cli.main import dbtRunner
import dbt.tracking as tracking
result = dbtRunner().invoke(
    ["ls", "--resource-type", "seed", "--project-dir", sys.argv[1], "--profiles-dir", sys.argv[1]]
)
assert result.success, result.exception
print("do_not_track", tracking.active_user.do_not_track)
"""


def test_the_project_flag_turns_usage_stats_off():
    project = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False


def test_dbt_run_outside_dagster_does_not_track():
    """A bare dbt invocation with no tracking variable set resolves tracking off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "DO_NOT_TRACK"))}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(PROJECT)],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "do_not_track True" in result.stdout
