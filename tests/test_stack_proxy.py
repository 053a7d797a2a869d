"""The reverse proxy of the compose stack really keeps the Dagster UI behind authentication.

The Dagster webserver has no login of its own, so the proxy's Caddyfile is the only lock. This
runs the very file of docker/proxy/ with the Debian `caddy` binary in front of a local upstream,
with the credentials passed through the environment as compose does.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CADDYFILE = ROOT / "docker" / "proxy" / "Caddyfile"
# A fresh password each run (with a space and a ";" to exercise quoting), never a literal.
USER, PASSWORD = "plant-it", f"volet; {secrets.token_urlsafe(12)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 - a local test server
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"process exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[dict[str, str]]:
    caddy = shutil.which("caddy")
    assert caddy, "caddy is not installed: apt-get install caddy (.ci/run installs it)"
    work = tmp_path_factory.mktemp("proxy")
    (work / "www").mkdir()
    (work / "www" / "index.html").write_text("dagster-ui-upstream")
    upstream_port, ui_port, adminer_port = free_port(), free_port(), free_port()
    password_hash = subprocess.run(
        [caddy, "hash-password", "--plaintext", PASSWORD],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    env = {
        **os.environ,
        "HOME": str(work),
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "PROXY_AUTH_USER": USER,
        "PROXY_AUTH_HASH": password_hash,
        "PROXY_UI_PORT": str(ui_port),
        "PROXY_ADMINER_PORT": str(adminer_port),
        "DAGSTER_WEBSERVER_UPSTREAM": f"127.0.0.1:{upstream_port}",
        "ADMINER_UPSTREAM": f"127.0.0.1:{upstream_port}",
    }
    procs = []
    try:
        up_log = work / "upstream.log"
        upstream = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(upstream_port), "--bind", "127.0.0.1"],
            cwd=work / "www",
            stdout=up_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(upstream)
        wait_port(upstream_port, upstream, up_log)
        caddy_log = work / "caddy.log"
        server = subprocess.Popen(
            [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=caddy_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(server)
        wait_port(ui_port, server, caddy_log)
        wait_port(adminer_port, server, caddy_log)
        yield {
            "ui": f"http://127.0.0.1:{ui_port}",
            "adminer": f"http://127.0.0.1:{adminer_port}",
        }
    finally:
        for proc in reversed(procs):
            stop(proc)


def test_ui_without_credentials_is_refused(proxy):
    status, body = get(proxy["ui"] + "/")
    assert status == 401
    assert b"dagster-ui-upstream" not in body


def test_ui_with_a_wrong_password_is_refused(proxy):
    assert get(proxy["ui"] + "/", (USER, "wrong"))[0] == 401
    assert get(proxy["ui"] + "/graphql", ("admin", PASSWORD))[0] == 401


def test_ui_with_the_env_credentials_reaches_the_webserver(proxy):
    status, body = get(proxy["ui"] + "/", (USER, PASSWORD))
    assert status == 200
    assert body == b"dagster-ui-upstream"


def test_health_probe_is_the_only_open_path(proxy):
    assert get(proxy["ui"] + "/healthz") == (200, b"ok")
    assert get(proxy["ui"] + "/healthz/../index.html")[0] == 401


def test_adminer_is_behind_the_same_authentication(proxy):
    assert get(proxy["adminer"] + "/")[0] == 401
    assert get(proxy["adminer"] + "/", (USER, PASSWORD)) == (200, b"dagster-ui-upstream")
