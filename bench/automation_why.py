"""Why the dbt automation launched a run: its evaluation records, read from a live instance.

For every run launched by ``dbt_automation_sensor`` after ``since`` (issue 18: builds besides the
machine-log runs cost a slot in the one-build queue), prints the assets it requested, and for
those requested for their own reason (not merely downstream of another request), the true
nodes of ``eager()``'s evaluation tree on the requesting tick with the ``SINCE`` node's trigger
and reset timestamps, and the materializations of the asset and of the dependencies it judged
updated around that tick (which run, which job, when). Used by ``bench/freshness.py``.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

SENSOR = "dbt_automation_sensor"


def _true_nodes(evaluation, depth: int = 0) -> list[str]:
    snap = evaluation.condition_snapshot
    size = evaluation.true_subset.size
    meta = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
    label = snap.label or snap.name or snap.description
    out = []
    if size:
        out.append(f"{'  ' * depth}{label} [{snap.class_name}] {meta if meta else ''}".rstrip())
    for child in evaluation.child_evaluations:
        out += _true_nodes(child, depth + 1)
    return out


def _materializations(instance: dg.DagsterInstance, key: dg.AssetKey, lo: float, hi: float):
    records = instance.fetch_materializations(key, limit=20).records
    out = []
    for r in records:
        if lo <= r.timestamp <= hi:
            run = instance.get_run_by_id(r.run_id)
            out.append((r.timestamp, r.run_id[:8], run.job_name if run else "?"))
    return sorted(out)


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]


def explain(instance: dg.DagsterInstance, since: float, graph=None) -> None:
    """Print why each automation run after ``since`` was requested (see the module docstring).

    ``graph``: an asset graph to name each requested asset's parents; without it only the
    evaluation tree is printed.
    """
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            tags={"dagster/sensor_name": SENSOR},
            created_after=datetime.fromtimestamp(since).astimezone(),
        )
    )
    print(f"automation runs since the start: {len(records)}")
    for rec in sorted(records, key=lambda r: r.create_timestamp):
        run = rec.dagster_run
        keys = sorted(run.asset_selection or [], key=lambda k: k.to_user_string())
        created = rec.create_timestamp.timestamp()
        print(f"\nrun {run.run_id[:8]} created {_clock(created)}, {len(keys)} assets")
        for key in keys:
            evals = instance.schedule_storage.get_auto_materialize_asset_evaluations(key, limit=200)
            mine = [e for e in evals if run.run_id in e.get_evaluation_with_run_ids().run_ids]
            if not mine:
                print(f"  {key.to_user_string()}: no evaluation record with this run")
                continue
            ev = mine[0].get_evaluation_with_run_ids().evaluation
            nodes = _true_nodes(ev)
            # Requested only because a parent will be requested on the same tick: skip detail.
            if any("will_be_requested" in n for n in nodes) and not any(
                "newly_updated_without_root" in n for n in nodes
            ):
                print(f"  {key.to_user_string()}: downstream of another request")
                continue
            print(f"  {key.to_user_string()}: evaluation {mine[0].evaluation_id}")
            for n in nodes:
                print(f"      {n}")
            if graph is not None:
                parents = sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string())
                for k in [key, *parents]:
                    mats = _materializations(instance, k, created - 180, created)
                    row = ", ".join(f"{_clock(t)} {rid} {job}" for t, rid, job in mats[-3:])
                    print(f"      {'self' if k == key else k.to_user_string()}: {row}")
