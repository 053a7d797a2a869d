"""How long one ``list_files()`` of a 10,000-file drop takes per protocol (the sensor's tick cost).

Starts the same real vsftpd and sshd as the tests (``tests/fixtures/servers.py``, root needed),
writes N files spread over machine folders, and prints the best-of-3 listing time for ftp, ftps,
sftp and local, for pyftpdlib servers listing MS-DOS style (``LIST`` + ``MDTM``) and by ``MLSD``,
plus the ratio of the pipelined FTP listing to a naive one (one ``MDTM`` round trip
per file), measured on the same server. Localhost round trips take microseconds; on a real
network each saved round trip saves a few milliseconds, so the ratio understates the gain.

    .venv/bin/python -m bench.drop_listing [--files 10000] [--machines 20]
"""

from __future__ import annotations

import argparse
import ftplib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shutter_assets.lib.drop import DropSettings, open_drop
from tests.fixtures.servers import PyftpdServer, ensure_test_user, start_sshd, start_vsftpd


def best_of(runs: int, action) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def naive_ftp_listing(settings, paths: list[str]) -> int:
    """The straightforward client: one MDTM round trip per file (what pipelining avoids)."""
    ftp = ftplib.FTP(timeout=30)  # noqa: S321 - benchmark against the local test server
    ftp.connect(settings.host, settings.port)
    ftp.login(settings.user, settings.password)
    ftp.cwd(settings.remote_dir)
    for path in paths:
        ftp.sendcmd(f"MDTM {path}")
    ftp.quit()
    return len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--machines", type=int, default=20)
    args = parser.parse_args()

    user = ensure_test_user()
    root = user.home / f"bench-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    try:
        per_machine = -(-args.files // args.machines)
        paths = []
        for m in range(args.machines):
            folder = root / f"CU-{m:02d}"
            folder.mkdir()
            for n in range(min(per_machine, args.files - len(paths))):
                name = f"CU-{m:02d}_20261120_{n:06d}.log"
                (folder / name).write_bytes(b"timestamp;machine_id;event\n" * (n % 7 + 1))
                paths.append(f"CU-{m:02d}/{name}")
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(root)], check=True)
        remote_dir = str(root.relative_to(user.home))

        with (
            start_vsftpd(user) as ftpd,
            start_sshd(user) as sshd,
            PyftpdServer(root, "msdos") as msdos,
            PyftpdServer(root, "mlsd") as mlsd,
        ):
            targets = {
                "ftp": ftpd.settings("ftp", remote_dir),
                "ftps": ftpd.settings("ftps", remote_dir),
                "sftp": sshd.settings(remote_dir),
                "msdos": msdos.settings(),
                "mlsd": mlsd.settings(),
            }

            targets["local"] = DropSettings(protocol="local", remote_dir=str(root))
            timings = {}
            print(f"{len(paths)} files in {args.machines} machine folders, best of 3")
            for protocol, settings in targets.items():

                def listing(settings=settings):
                    with open_drop(settings) as drop:
                        return drop.list_files()

                seconds, files = best_of(3, listing)
                assert len(files) == len(paths), (protocol, len(files))
                timings[protocol] = seconds
                print(
                    f"  {protocol:<6} list_files: {seconds:7.3f} s  "
                    f"({seconds / len(paths) * 1e6:6.1f} us/file)"
                )
            naive, _ = best_of(1, lambda: naive_ftp_listing(targets["ftp"], paths))
            print(f"  ftp   naive one-MDTM-per-file listing: {naive:7.3f} s")
            print(f"ratio ftp pipelined / naive per-file MDTM: {timings['ftp'] / naive:.3f}")
            for protocol in ("ftp", "ftps", "sftp"):
                print(f"ratio {protocol} / local: {timings[protocol] / timings['local']:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.umask(0o022)
    main()
