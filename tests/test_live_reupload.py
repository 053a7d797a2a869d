"""The live feed's re-uploads (issue 11) as the platform records them and the soak expects them.

The live simulator uploads an earlier file again under another name now and then (same bytes);
``bench/live_platform.py`` ``FileFeed`` reads that from its output and ``bench/soak.py``
``compare_raw`` expects one of the two names loaded with the lines and the other recorded as a
``duplicate`` of it. Here the feed's files go through the real loader into PostgreSQL in both
orders (the copy read after its original, as usual, or first, when both wait for one run and
the copy's name sorts first) and ``compare_raw`` must find no difference, and one when a line of
the content is missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from shutter_assets.lib.connections import PostgresSettings
from shutter_assets.lib.drop import DropSettings, open_drop
from shutter_assets.lib.log_ingest import ingest_files

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def load_bench(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("copies_first", [False, True])
def test_a_re_upload_is_recorded_as_a_duplicate_and_its_lines_load_once(
    tmp_path: Path, pg_settings: PostgresSettings, copies_first: bool
) -> None:
    live_platform, soak = load_bench("live_platform"), load_bench("soak")
    cmd = [sys.executable, "-m", "shutter_assets.simulator", "live", "--out", str(tmp_path)]
    out = subprocess.run(
        [*cmd, "--interval", "0", "--count", "13"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    feed = live_platform.FileFeed(None)
    for line in out.splitlines():
        feed.parse(line)
    # files 5 and 12 are each followed by a copy of the file three before
    assert len(feed.written) == 15 and len(feed.duplicate_of) == 2
    for copy, original in feed.duplicate_of.items():
        assert feed.lines[copy] == 0 < feed.lines[original]
        assert (tmp_path / copy).read_bytes() == (tmp_path / original).read_bytes()

    with open_drop(DropSettings(protocol="local", remote_dir=str(tmp_path))) as drop:
        files = sorted(
            drop.list_files(), key=lambda f: (f.path in feed.duplicate_of) != copies_first
        )
        report = ingest_files(pg_settings, drop, files, plant_tz="Europe/Paris", run_id="test")
    status = {f.path: f.status for f in report.files}
    for copy, original in feed.duplicate_of.items():
        first, second = (copy, original) if copies_first else (original, copy)
        assert (status[first], status[second]) == ("loaded", "duplicate")

    platform = SimpleNamespace(warehouse=pg_settings)
    assert soak.compare_raw(platform, feed.lines, feed.duplicate_of) == []
    # without knowing the copies, the soak would see a file without lines (or lines twice)
    assert soak.compare_raw(platform, feed.lines) != []

    copy, original = next(iter(feed.duplicate_of.items()))
    kept = copy if copies_first else original
    with pg_settings.connect() as conn:
        conn.execute(
            "delete from raw.machine_events where line_no = 2 and file_id = "
            "(select file_id from raw.ingested_files where path = %s)",
            (kept,),
        )
        conn.commit()
    diffs = soak.compare_raw(platform, feed.lines, feed.duplicate_of)
    assert len(diffs) == 1 and diffs[0].startswith(f"{original} and its re-upload(s): ")
