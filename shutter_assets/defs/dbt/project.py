"""The dbt project (``dbt_project/`` beside the package) as Dagster sees it.

The manifest is prepared at build/dev time (``make prepare`` runs ``dbt parse``; under ``dagster
dev`` it is re-parsed at load), never at each run. A checkout where nobody ran ``make prepare``
yet, or where a model changed since, gets it parsed once at load (``dbt parse`` needs no
database connection), so the asset graph never disagrees with the SQL that will run. The preparation
uses the venv's dbt explicitly: dagster-dbt's default preparer looks for ``dbt`` on PATH, which
the daemon, cron and CI do not have.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


class VenvDbtPreparer(DagsterDbtProjectPreparer):
    """``dbt parse`` with the dbt installed next to this Python (no packages to install)."""

    def _prepare_manifest(self, project: DbtProject) -> None:
        (
            DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
            .cli(["parse", "--quiet"], target_path=project.target_path)
            .wait()
        )


def _manifest_is_stale(project: DbtProject) -> bool:
    """Missing, or older than a file of the project (a model edited since ``make prepare``)."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    sources = [project.project_dir / "dbt_project.yml"]
    for folder in ("models", "seeds", "tests", "macros"):
        sources.extend(p for p in (project.project_dir / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources)


def _prepared(project: DbtProject) -> DbtProject:
    if os.environ.get("DAGSTER_IS_DEV_CLI") or _manifest_is_stale(project):
        VenvDbtPreparer().prepare(project)
    return project


# The manifest names the warehouse database it was parsed for (dagster-dbt reads row counts and
# column metadata through those names). DBT_TARGET_PATH, dbt's own variable, moves it out of the
# checkout's target/ for a process with a warehouse of its own (tests/test_stack_native.py).
dbt_project = _prepared(
    DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target_path=os.environ.get("DBT_TARGET_PATH") or "target",
    )
)
