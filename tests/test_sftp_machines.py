"""The soak's SFTP machines (``bench/sftp_machines.py``) against a real sshd, restarted mid-upload.

The feed uploads the live files of two machines into a folder of the drop account's home, sshd
is stopped with its sessions while an upload is in progress and started again on the same port:
every file must end complete with exactly its truth's bytes, no temporary name left behind, and
the feed's ``written`` / ``lines`` must hold every file (what ``bench/soak.py`` compares). In
overtime (the soak's mode) the machines go on past their count until stopped, and stop after a
whole file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.sftp_machines import SftpMachines, default_machines
from shutter_assets.simulator.logs import live_file
from tests.fixtures.servers import SystemUser


def sftp_feed(
    drop_user: SystemUser, drop_home_area: Path, name: str, machines: int, **options
) -> SftpMachines:
    """The feed of ``machines`` SFTP machines into a new folder ``name`` of the drop account."""
    folder = drop_home_area / name
    folder.mkdir()
    os.chown(folder, drop_user.uid, drop_user.gid)
    return SftpMachines(
        drop_user, str(folder.relative_to(drop_user.home)), default_machines(machines), **options
    )


def test_sftp_machines_deliver_every_file_whole_across_an_sshd_restart(
    drop_user: SystemUser, drop_home_area: Path
) -> None:
    count = 6
    feed = sftp_feed(
        drop_user, drop_home_area, "sftp-machines", 2, count=count, interval_s=0.2, grow_s=1.5
    )
    folder, machines = drop_user.home / feed.remote_dir, feed.machines
    try:
        feed.start()
        deadline = time.monotonic() + 30
        while len(feed.written) < 2 and not feed.finished.is_set():
            assert time.monotonic() < deadline, "no file delivered within 30 s"
            time.sleep(0.1)
        port = feed.sshd.port
        hit = feed.restart_sshd(pause_s=3, wait_busy_s=20)
        assert feed.sshd.port == port
        assert feed.finished.wait(45), "the feed did not finish within 45 s of the restart"
    finally:
        feed.close()

    assert feed.problems() == []
    assert hit
    assert feed.interrupted >= 1, "the restart cut no upload"
    assert feed.reconnects >= 1
    expected = {}
    for k in range(count):
        name, data, truth = live_file(1, k, machines=machines, after_days=2)
        expected[name] = (data, truth.accepted)
    assert {n.split("_", 1)[0] for n in expected} == set(machines)
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)  # no .part / .tmp left
    for name, (data, _) in expected.items():
        assert (folder / name).read_bytes() == data, name
    assert set(feed.written) == set(expected)
    assert feed.lines == {name: accepted for name, (_, accepted) in expected.items()}
    assert set(feed.how.values()) == {"grown", "renamed"}


def test_sftp_machines_in_overtime_go_on_until_stopped_and_stop_after_a_whole_file(
    drop_user: SystemUser, drop_home_area: Path
) -> None:
    feed = sftp_feed(
        drop_user,
        drop_home_area,
        "sftp-overtime",
        1,
        count=1,
        interval_s=0.1,
        grow_s=0.3,
        overtime=True,
    )
    folder, machines = drop_user.home / feed.remote_dir, feed.machines
    try:
        feed.start()
        assert feed.finished.wait(30), "the first file was not delivered within 30 s"
        deadline = time.monotonic() + 30
        while len(feed.written) < 3:
            assert time.monotonic() < deadline, "no file after the count within 30 s"
            time.sleep(0.05)
    finally:
        feed.close()

    assert not feed.is_alive()
    assert feed.problems() == []
    delivered = len(feed.written)
    assert delivered >= 3
    names = []
    for k in range(delivered):
        name, data, truth = live_file(1, k, machines=machines, after_days=2)
        assert (folder / name).read_bytes() == data, name
        assert feed.lines[name] == truth.accepted
        names.append(name)
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
