"""Static verification of the production stack (there is no Docker engine on the build machine).

docker-compose.yaml, dagster.yaml and the files under docker/ are checked for the properties a
plant's IT relies on (health-gated start-up, restart policy, limits, no secret in the file, only the
proxy exposing the UI), and the init scripts the containers run are executed here against the real
local PostgreSQL and MariaDB. The Dagster commands themselves run natively in test_stack_native.py.
"""

from __future__ import annotations

import dataclasses
import ftplib
import io
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml

from shutter_assets.lib.drop import DropSettings, open_drop
from tests.fixtures.databases import server_mysql as mysql_server
from tests.fixtures.databases import server_postgres
from tests.fixtures.servers import free_port
from tests.fixtures.settings import code_location_variables

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; "$$" escapes a literal $.
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?+])[^}]*)?\}")
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|_PWD$|SECRET|TOKEN|HASH|_KEY$|API_KEY|WEBHOOK_URL", re.IGNORECASE
)
# Services that run once at every `up` ((re)create the database accounts) and then exit.
ONE_SHOT_SERVICES = ("warehouse-init", "mysql-init")
# Least privilege: the compose secrets (files under secrets/) each service mounts, and no other;
# each named to the program by X_FILE, the variable it would otherwise read (docs/deploy.md 2.1).
SECRETS_PER_SERVICE = {
    "postgres": {"postgres_password": "POSTGRES_PASSWORD"},
    "warehouse-init": {
        "postgres_password": "POSTGRES_PASSWORD",
        "postgres_pipeline_password": "POSTGRES_PIPELINE_PASSWORD",
        "bi_readonly_password": "BI_READONLY_PASSWORD",
        "api_db_password": "API_DB_PASSWORD",
    },
    "mysql": {"mysql_root_password": "MYSQL_ROOT_PASSWORD"},
    "mysql-init": {
        "mysql_root_password": "MYSQL_ROOT_PASSWORD",
        "mysql_readonly_password": "SHUTTER_RO_PASSWORD",
    },
    "ftp": {"ftp_password": "FTP_PASSWORD"},
    "dagster-code": {
        "postgres_pipeline_password": "POSTGRES_PASSWORD",
        "mysql_readonly_password": "MYSQL_PASSWORD",
        "ftp_password": "FTP_PASSWORD",
        "alert_smtp_password": "ALERT_SMTP_PASSWORD",
        "alert_webhook_url": "ALERT_WEBHOOK_URL",
    },
    "dagster-webserver": {"postgres_pipeline_password": "POSTGRES_PASSWORD"},
    "dagster-daemon": {"postgres_pipeline_password": "POSTGRES_PASSWORD"},
    "adminer": {},
    "proxy": {},
    "api": {"api_db_password": "API_DB_PASSWORD"},
    "redis": {},
}
# What stays in .env: hashes, not passwords (the proxy's bcrypt hash, the API keys' digests).
ENV_SECRETS_PER_SERVICE = {"proxy": {"PROXY_AUTH_HASH"}, "api": {"API_KEYS"}}
# The server-wide keys: never beyond the services that set up accounts with them.
ADMIN_SECRETS = {"postgres_password", "mysql_root_password"}
SECRETS_MOUNT = "/run/secrets/"


def compose_text_without_comments() -> str:
    """What compose interpolates: every line but the comments."""
    lines = COMPOSE_FILE.read_text().splitlines()
    return "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return load_compose()["services"]


def env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=", line)
        if m:
            names.add(m.group(1))
    return names


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def option(cmd: list[str], *names: str) -> str:
    for i, arg in enumerate(cmd):
        if arg in names:
            return cmd[i + 1]
    raise AssertionError(f"option {names} missing from {cmd}")


def test_every_service_has_a_healthcheck_and_restarts_unless_stopped():
    for name, svc in services().items():
        if name in ONE_SHOT_SERVICES:
            assert svc.get("restart") == "no", f"{name}: a one-shot service must not restart"
            continue
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck {check['test']}"
        assert svc.get("restart") == "unless-stopped", f"{name}: restart={svc.get('restart')}"


def test_every_dependency_waits_for_health():
    all_services = services()
    for name, svc in all_services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on must be a mapping with conditions"
        for dep, spec in deps.items():
            assert dep in all_services, f"{name} depends on unknown service {dep}"
            expected = (
                "service_completed_successfully" if dep in ONE_SHOT_SERVICES else "service_healthy"
            )
            assert spec.get("condition") == expected, f"{name} -> {dep}: {spec}"
    # The start order a deployment needs: storage before Dagster, Dagster before the proxy.
    for name in DAGSTER_SERVICES:
        assert "postgres" in all_services[name]["depends_on"], f"{name} must wait for postgres"
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "dagster-code" in all_services[name]["depends_on"]
    assert "dagster-webserver" in all_services["proxy"]["depends_on"]
    # The accounts exist (with the passwords of .env) before any Dagster process connects.
    assert set(ONE_SHOT_SERVICES) <= set(all_services["dagster-code"]["depends_on"])
    for name in ONE_SHOT_SERVICES:
        assert all_services[name]["depends_on"], f"{name} must wait for its server"


def secret_vars(service: dict[str, Any]) -> set[str]:
    """The .env variables a service's environment is built from that hold a secret."""
    return {
        var
        for value in environment(service).values()
        for var in VAR_REF.findall(value)
        if SECRET_NAME.search(var)
    }


def mounted_secrets(service: dict[str, Any]) -> dict[str, str]:
    """Secret name -> the variable it stands for (X of X_FILE=/run/secrets/<name>), as rendered
    by `docker-compose config` (``secrets: [{source: name}]``)."""
    names = {s["source"] if isinstance(s, dict) else s for s in service.get("secrets") or []}
    named = {
        value.removeprefix(SECRETS_MOUNT): key.removesuffix("_FILE")
        for key, value in environment(service).items()
        if key.endswith("_FILE") and value.startswith(SECRETS_MOUNT)
    }
    assert set(named) <= names, f"X_FILE names a secret not mounted: {set(named) - names}"
    return {name: named.get(name, "") for name in names}


def test_each_service_receives_only_the_secrets_it_uses(tmp_path):
    """Checked on what compose itself renders (`docker-compose config`), not on the YAML text."""
    write_secrets(tmp_path / "secrets")
    rendered = yaml.safe_load(compose_ok(compose_config(tmp_path, COMPOSE_TEST_ENV)))
    declared = rendered["secrets"]
    assert set(declared) == {s for per in SECRETS_PER_SERVICE.values() for s in per}
    for secret in declared.values():  # files beside the compose file, never inlined values
        assert Path(secret["file"]).parent == tmp_path / "secrets", secret
    for name, svc in rendered["services"].items():
        got = mounted_secrets(svc)
        env_secrets = secret_vars(services()[name])
        if name in SECRETS_PER_SERVICE:
            assert got == SECRETS_PER_SERVICE[name], f"{name} mounts {got}"
            assert env_secrets == ENV_SECRETS_PER_SERVICE.get(name, set()), name
        else:  # a service added later: never the servers' admin passwords
            assert not set(got) & ADMIN_SECRETS, f"{name} mounts {sorted(got)}"
        # no password left in the environment (docker inspect shows it), only its file's path
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key) and key not in ENV_SECRETS_PER_SERVICE.get(name, ()):
                assert key.endswith("_FILE") and value.startswith(SECRETS_MOUNT), (name, key)
    # The webserver and daemon only reach Dagster's storage: the sources are the code server's.
    for name in ("dagster-webserver", "dagster-daemon"):
        env = environment(services()[name])
        assert set(env) == secret_file_names(instance_env_vars()) | {
            "POSTGRES_HOST",
            "POSTGRES_PORT",
            "DAGSTER_DATA_DIR",
            "DAGSTER_COMPUTE_LOGS_DIR",
        }, f"{name}: {sorted(env)}"
    # and as the pipeline's own role, not the superuser of the postgres container
    for name in DAGSTER_SERVICES:
        env = environment(services()[name])
        assert env["POSTGRES_USER"] == "${POSTGRES_PIPELINE_USER:-shutter_pipeline}"
    code = environment(services()["dagster-code"])
    assert code["MYSQL_USER"] == "${MYSQL_READONLY_USER:-shutter_ro}"
    assert "BI_READONLY_PASSWORD" not in code  # warehouse-init sets it; the asset only grants


def secret_file_names(names: set[str]) -> set[str]:
    """``names`` with each secret X as the compose file passes it, X_FILE."""
    return {f"{n}_FILE" if SECRET_NAME.search(n) else n for n in names}


def test_the_images_turn_secret_files_into_the_variables_their_programs_read():
    """dagster.yaml reads POSTGRES_PASSWORD from the environment only: the Dagster image's
    entrypoint reads it from POSTGRES_PASSWORD_FILE (the healthchecks that load the instance
    go through it too); vsftpd's entrypoint and mysql-init read theirs the same way."""
    assert {n for n in instance_env_vars() if SECRET_NAME.search(n)} == {"POSTGRES_PASSWORD"}
    entrypoint = (ROOT / "docker/dagster/entrypoint.sh").read_text()
    assert "secret_from_file POSTGRES_PASSWORD" in entrypoint
    dockerfile = (ROOT / "docker/dagster/Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/local/bin/shutter-entrypoint"]' in dockerfile
    assert "COPY docker/secret-env.sh /usr/local/lib/shutter/secret-env.sh" in dockerfile
    assert "secrets" in (ROOT / "docker/dagster/Dockerfile.dockerignore").read_text().split()
    for name in ("dagster-code", "dagster-daemon"):
        assert services()[name]["healthcheck"]["test"][1] == "shutter-entrypoint", name
    assert "secret_from_file FTP_PASSWORD" in (ROOT / "docker/vsftpd/entrypoint.sh").read_text()
    assert "COPY secret-env.sh" in (ROOT / "docker/vsftpd/Dockerfile").read_text()
    assert services()["ftp"]["build"] == {"context": "docker", "dockerfile": "vsftpd/Dockerfile"}
    readonly = (ROOT / "docker/mysql/readonly-user.sh").read_text()
    assert "secret_from_file SHUTTER_RO_PASSWORD" in readonly
    assert (
        "./docker/secret-env.sh:/usr/local/lib/shutter/secret-env.sh:ro"
        in (services()["mysql-init"]["volumes"])
    )
    assert "/run/secrets/" not in (ROOT / ".gitignore").read_text()
    assert "/secrets/" in (ROOT / ".gitignore").read_text().split()


def source_secret(env: dict[str, str], name: str) -> subprocess.CompletedProcess:
    """docker/secret-env.sh's ``secret_from_file name`` in bash, then the value it exported."""
    script = f'. docker/secret-env.sh && secret_from_file {name} && printf %s "${{{name}}}"'
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=30
    )


def test_secret_env_reads_the_file_whole_strips_newlines_and_refuses_both(tmp_path):
    secret = f"{secrets.token_urlsafe(8)}$ecret 'q\\\" \t`x`$(id)"
    path = tmp_path / "pw"
    path.write_text(secret + "\n")
    base = {"PATH": os.environ["PATH"], "PW_FILE": str(path)}
    done = source_secret(base, "PW")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == secret == read_secret_file(path)
    # the same rule as the platform's Python settings, which read the same files (warehouse-init
    # sets a role's password from the file the Dagster services then log in with)
    from shutter_assets.lib.settings import read_variable

    for ending in ("\n\n", "\r\n", "\n\r\n", ""):
        path.write_text(secret + ending)
        assert source_secret(base, "PW").stdout.decode() == secret, repr(ending)
        assert read_variable({"PW_FILE": str(path)}, "PW", is_secret=True) == secret
    both = source_secret({**base, "PW": "other"}, "PW")
    assert both.returncode != 0 and b"both PW and PW_FILE" in both.stderr
    missing = source_secret({**base, "PW_FILE": str(tmp_path / "nope")}, "PW")
    assert missing.returncode != 0 and b"not a readable file" in missing.stderr
    # unset X_FILE: X is left as it is
    assert source_secret({"PATH": os.environ["PATH"], "PW": "env"}, "PW").stdout == b"env"


def test_the_stack_secrets_script_makes_every_secret_once(tmp_path):
    folder = tmp_path / "secrets"
    run = ["bash", str(ROOT / "scripts/stack_secrets.sh"), str(folder)]
    first = subprocess.run(run, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    declared = set(load_compose()["secrets"])
    assert {p.name for p in folder.iterdir()} == declared
    assert folder.stat().st_mode & 0o777 == 0o700
    values = {p.name: p.read_text() for p in folder.iterdir()}
    assert values.pop("alert_smtp_password") == ""  # optional: no SMTP login by default
    assert values.pop("alert_webhook_url") == ""  # optional: chat alerts off by default
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", v) for v in values.values()), values
    assert len(set(values.values())) == len(values)
    (folder / "ftp_password").write_text("kept")
    again = subprocess.run(run, capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and "0 created" in again.stdout
    assert (folder / "ftp_password").read_text() == "kept"
    for secret in load_compose()["secrets"].values():
        assert secret["file"].startswith("./secrets/"), secret


def test_every_variable_of_the_compose_file_is_documented_in_env_example():
    used = set(VAR_REF.findall(compose_text_without_comments()))
    assert used, "no ${VAR} found: the compose file must take its settings from .env"
    missing = sorted(used - env_example_names())
    assert not missing, f"used in docker-compose.yaml, absent from .env.example: {missing}"


def test_no_literal_secret_in_the_compose_file():
    text = compose_text_without_comments()
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key):
                assert VAR_REF.fullmatch(value) or (
                    key.endswith("_FILE") and value.startswith(SECRETS_MOUNT)
                ), f"{name}: {key} must come from .env or a secret file, not {value!r}"
        for arg in (svc.get("healthcheck") or {}).get("test", []):
            assert not re.search(r"(-p|--password=)\S", arg), f"{name}: password in healthcheck"
    # No "password: literal" anywhere, nor a bcrypt/htpasswd hash pasted in.
    for m in re.finditer(
        r"(?im)^[ \t]*[\w-]*(password|secret|token)[\w-]*[ \t]*[:=][ \t]*(\S+)", text
    ):
        value = m.group(2)
        assert value.startswith(("${", SECRETS_MOUNT)), f"literal secret: {m.group(0).strip()}"
    assert not re.search(r"\$2[aby]\$\d\d\$|\$apr1\$", text), "password hash pasted in compose"


def test_required_secrets_make_compose_refuse_to_start_when_unset():
    """The hashes kept in .env are required; the passwords are files (compose refuses to create
    a container whose secret file is missing, and secret-env.sh names an unreadable one)."""
    text = compose_text_without_comments()
    for var in ("PROXY_AUTH_HASH", "API_KEYS"):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} must be ${{{var}:?...}}"


def test_named_volumes_are_declared_and_hold_every_state():
    compose = load_compose()
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes") or []:
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith((".", "/", "~")):
                assert vol.endswith(":ro"), f"{name}: bind mount {vol} must be read-only"
                assert (ROOT / source).resolve().exists(), f"{name}: {source} not in the repo"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {declared - used}"
    mounts = {n: " ".join(s.get("volumes") or []) for n, s in compose["services"].items()}
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert "/var/lib/mysql" in mounts["mysql"]
    assert "/srv/ftp/logs" in mounts["ftp"]


def test_the_log_volume_is_only_mounted_in_the_ftp_server():
    """The Dagster containers read the machines' uploads over FTP, like in the plant."""
    for name, svc in services().items():
        mounted = " ".join(svc.get("volumes") or [])
        if name != "ftp":
            assert "ftp_logs" not in mounted, f"{name} mounts the FTP log volume"
    env = environment(services()["dagster-code"])
    assert env["FTP_PROTOCOL"] == "ftp" and env["FTP_HOST"] == "ftp"


def test_every_service_has_resource_limits():
    for name, svc in services().items():
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        assert limits.get("memory"), f"{name}: no memory limit"
        assert limits.get("cpus"), f"{name}: no cpu limit"


def published_targets(svc: dict[str, Any]) -> list[int]:
    targets = []
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            targets.append(int(port["target"]))
        else:
            spec = VAR_REF.sub("X", str(port)).split("/")[0]
            target = spec.rsplit(":", 1)[-1]
            first = target.split("-")[0]
            targets.append(int(first))
    return targets


def test_only_the_proxy_publishes_the_dagster_ui():
    all_services = services()
    web_port = int(option(command(all_services["dagster-webserver"]), "-p", "--port"))
    for name in ("dagster-webserver", "dagster-daemon", "dagster-code", "adminer"):
        assert not all_services[name].get("ports"), f"{name} must not publish a port"
    for name, svc in all_services.items():
        if name != "proxy":
            assert web_port not in published_targets(svc), f"{name} publishes the UI port"
    # HTTPS only: the plain-HTTP health port stays inside the container.
    assert sorted(published_targets(all_services["proxy"])) == [8443, 8444]
    caddyfile = (ROOT / "docker/proxy/Caddyfile").read_text()
    proxy_env = environment(all_services["proxy"])
    assert proxy_env["DAGSTER_WEBSERVER_UPSTREAM"] == f"dagster-webserver:{web_port}"
    # basic_auth, not the deprecated basicauth alias
    assert "basic_auth {" in caddyfile and not re.search(r"\bbasicauth\b", caddyfile)
    assert "{$PROXY_AUTH_HASH}" in caddyfile
    # Every HTTPS site is behind the auth snippet and has TLS; the HTTP site only answers health.
    sites = re.findall(r"(?m)^(\S.*) \{$", caddyfile)
    https_sites = [site for site in sites if site.startswith("https://")]
    assert len(https_sites) == 2 and caddyfile.count("import auth") == 2
    assert caddyfile.count("tls {$PROXY_TLS:internal}") == 2
    assert [site for site in sites if site.startswith("http://")] == [
        "http://:{$PROXY_HEALTH_PORT:8080}"
    ]


def test_the_api_is_reached_only_through_the_proxy_under_api():
    all_services = services()
    api, redis_service = all_services["api"], all_services["redis"]
    assert not api.get("ports") and not redis_service.get("ports")
    assert command(api) == ["python", "-m", "shutter_api"]
    env = environment(api)
    assert env["API_ROOT_PATH"] == "/api" and env["REDIS_URL"] == "redis://redis:6379/0"
    assert environment(all_services["proxy"])["API_UPSTREAM"] == f"api:{env['API_PORT']}"
    assert set(api["depends_on"]) == {"postgres", "redis"}
    assert "api" in all_services["proxy"]["depends_on"]
    caddyfile = (ROOT / "docker/proxy/Caddyfile").read_text()
    assert "handle_path /api/* {" in caddyfile and "{$API_UPSTREAM:" in caddyfile
    assert "COPY shutter_api/ shutter_api/" in (ROOT / "docker/dagster/Dockerfile").read_text()


def test_container_commands_are_the_native_dagster_entry_points():
    all_services = services()
    code = command(all_services["dagster-code"])
    web = command(all_services["dagster-webserver"])
    daemon = command(all_services["dagster-daemon"])
    assert code[:3] == ["dagster", "code-server", "start"]
    assert option(code, "-m", "--module-name") == "shutter_assets.definitions"
    assert web[0] == "dagster-webserver"
    assert daemon[:2] == ["dagster-daemon", "run"]
    # The webserver and daemon reach the code server through the baked workspace file.
    workspace_path = option(web, "-w", "--workspace")
    assert option(daemon, "-w", "--workspace") == workspace_path
    dockerfile = (ROOT / "docker/dagster/Dockerfile").read_text()
    assert f"COPY docker/dagster/workspace.yaml {workspace_path}" in dockerfile
    workspace = yaml.safe_load((ROOT / "docker/dagster/workspace.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    assert grpc["host"] == "dagster-code"
    assert int(grpc["port"]) == int(option(code, "-p", "--port"))
    assert grpc["location_name"] == option(code, "--location-name")
    local = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    assert local["location_name"] == grpc["location_name"]
    assert local["module_name"] == option(code, "-m", "--module-name")
    # Health probes use the same CLIs.
    # (through the image's entrypoint, which reads the storage password from its secret file)
    code_check = all_services["dagster-code"]["healthcheck"]["test"]
    assert code_check[1:5] == ["shutter-entrypoint", "dagster", "api", "grpc-health-check"]
    assert option(code_check, "-p") == option(code, "-p", "--port")
    assert all_services["dagster-daemon"]["healthcheck"]["test"][1:] == [
        "shutter-entrypoint",
        "dagster-daemon",
        "liveness-check",
    ]


def test_the_image_bakes_the_instance_and_the_dbt_manifest():
    dockerfile = (ROOT / "docker/dagster/Dockerfile").read_text()
    assert "COPY dagster.yaml /opt/dagster/dagster_home/dagster.yaml" in dockerfile
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in dockerfile
    assert "dbt parse" in dockerfile
    assert "pip install" in dockerfile
    assert re.search(r"^USER dagster$", dockerfile, re.M), "the Dagster image must not run as root"


def instance_env_vars() -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((ROOT / "dagster.yaml").read_text()))
    return found


# Settings the code reads through os.environ directly (shutter_assets/**.py); the settings
# classes' variables come from lib/settings.py (tests/fixtures/settings.py lists the classes).
CODE_ENV_READ = re.compile(
    r"(?:EnvVar(?:\.int)?|environ\.get|getenv)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)
# The compose drop is plain FTP on the stack's network: the SFTP/FTPS-only settings stay unset.
NOT_FOR_COMPOSE = {"SFTP_KNOWN_HOSTS", "SFTP_INSECURE_ACCEPT_ANY_HOST_KEY", "FTP_TLS_CA_FILE"}
# Read by warehouse-init only (shutter_assets/lib/warehouse_roles.py): the BI role's password
# is set there, the bi/readonly_role asset only re-grants.
WAREHOUSE_INIT_ONLY = {
    "POSTGRES_PIPELINE_USER",
    "POSTGRES_PIPELINE_PASSWORD",
    "BI_READONLY_PASSWORD",
    "API_DB_PASSWORD",
}


def code_env_vars() -> set[str]:
    found: set[str] = code_location_variables()
    for path in (ROOT / "shutter_assets").rglob("*.py"):
        found |= set(CODE_ENV_READ.findall(path.read_text()))
    return found


def test_the_code_server_receives_every_documented_setting_the_code_reads():
    """A variable added to .env.example and read by the code must also reach the code server
    (where sensors, schedules and runs execute)."""
    documented = env_example_names()
    needed = (code_env_vars() & documented) - NOT_FOR_COMPOSE - WAREHOUSE_INIT_ONLY
    assert {"POSTGRES_HOST", "FTP_PROTOCOL", "PLANT_TIMEZONE"} <= needed, needed
    missing = secret_file_names(needed) - set(environment(services()["dagster-code"]))
    assert not missing, f"dagster-code lacks {sorted(missing)} (read by shutter_assets)"
    missing = secret_file_names(WAREHOUSE_INIT_ONLY) - set(
        environment(services()["warehouse-init"])
    )
    assert not missing, f"warehouse-init lacks {sorted(missing)}"


def test_dagster_containers_receive_every_setting_the_instance_and_resources_read():
    needed = instance_env_vars() | {
        "POSTGRES_DB",
        "MYSQL_HOST",
        "MYSQL_PORT",
        "MYSQL_USER",
        "MYSQL_PASSWORD",
        "MYSQL_DATABASE",
        "FTP_PROTOCOL",
        "FTP_HOST",
        "FTP_PORT",
        "FTP_USER",
        "FTP_PASSWORD",
        "FTP_REMOTE_DIR",
        "PLANT_TIMEZONE",
    }
    assert {"POSTGRES_PASSWORD", "DAGSTER_PG_DB", "DAGSTER_COMPUTE_LOGS_DIR"} <= needed
    missing = secret_file_names(needed) - set(environment(services()["dagster-code"]))
    assert not missing, f"dagster-code lacks {sorted(missing)}"
    for name in ("dagster-webserver", "dagster-daemon"):
        missing = secret_file_names(instance_env_vars()) - set(environment(services()[name]))
        assert not missing, f"{name} lacks {sorted(missing)}"
    assert instance_env_vars() <= env_example_names()


def test_instance_config_is_production_shaped():
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    pg = config["storage"]["postgres"]["postgres_db"]
    for key in ("username", "password", "hostname", "db_name", "port"):
        assert set(pg[key]) == {"env"}, f"storage.postgres.postgres_db.{key} must be {{env: ...}}"
    assert pg["db_name"] == {"env": "DAGSTER_PG_DB"}
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"] > 0
    limits = coordinator["config"]["tag_concurrency_limits"]
    assert {"key": "dagster/sensor_name", "value": "machine_logs_sensor", "limit": 1} in limits
    assert config["run_retries"]["enabled"] is True
    assert config["telemetry"] == {"enabled": False}
    assert config["retention"]["sensor"]["purge_after_days"]["skipped"] > 0
    assert set(config["compute_logs"]["config"]["base_dir"]) == {"env"}
    assert set(config["local_artifact_storage"]["config"]["base_dir"]) == {"env"}


def run_mysql_init(
    mysql_settings, user: str, password: str, port: int | None = None
) -> subprocess.CompletedProcess:
    """docker/mysql/readonly-user.sh as mysql-init runs it: both passwords from secret files."""
    secrets = Path(tempfile.mkdtemp(prefix="shutter-mysql-init-"))
    (secrets / "root").write_text(mysql_settings.password + "\n")
    (secrets / "ro").write_text(password + "\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MYSQL_")},
        "MYSQL_HOST": mysql_settings.host,
        "MYSQL_TCP_PORT": str(port or mysql_settings.port),
        "MYSQL_ROOT_PASSWORD_FILE": str(secrets / "root"),
        "MYSQL_DATABASE": mysql_settings.database,
        "SHUTTER_RO_USER": user,
        "SHUTTER_RO_PASSWORD_FILE": str(secrets / "ro"),
        "SHUTTER_SECRET_ENV": str(ROOT / "docker/secret-env.sh"),
    }
    try:
        return subprocess.run(
            ["bash", str(ROOT / "docker/mysql/readonly-user.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(secrets)


@pytest.mark.integration
def test_mysql_init_gives_the_platform_a_read_only_account(mysql_settings):
    conn = mysql_settings.connect()
    try:
        with conn.cursor() as cur:
            init_sql = (ROOT / "shutter_assets/simulator/init.sql").read_text()
            code = "\n".join(ln for ln in init_sql.splitlines() if not ln.lstrip().startswith("--"))
            for statement in code.split(";"):
                if statement.strip():
                    cur.execute(statement)
        conn.commit()
    finally:
        conn.close()
    user, password = f"ro_{uuid.uuid4().hex[:8]}", "pa'ss\\word;1"
    try:
        result = run_mysql_init(mysql_settings, user, password)
        assert result.returncode == 0, result.stderr
        ro = pymysql.connect(
            host=mysql_settings.host,
            port=mysql_settings.port,
            user=user,
            password=password,
            database=mysql_settings.database,
        )
        try:
            with ro.cursor() as cur:
                cur.execute("select count(*) from commandes")
                assert cur.fetchone() is not None
                with pytest.raises(pymysql.err.OperationalError, match="denied"):
                    cur.execute("insert into produits (id_produit, reference) values (999, 'X')")
                with pytest.raises(pymysql.err.OperationalError, match="denied"):
                    cur.execute("create table sneaky (id int)")
        finally:
            ro.close()
        # Every `up` runs it again: a password rotated in .env reaches the existing account.
        rotated = "r0tated$pw"
        result = run_mysql_init(mysql_settings, user, rotated)
        assert result.returncode == 0, result.stderr
        with pytest.raises(pymysql.err.OperationalError, match="denied"):
            pymysql.connect(
                host=mysql_settings.host, port=mysql_settings.port, user=user, password=password
            )
        pymysql.connect(
            host=mysql_settings.host, port=mysql_settings.port, user=user, password=rotated
        ).close()
    finally:
        admin = mysql_settings.connect()
        try:
            with admin.cursor() as cur:
                cur.execute("drop user if exists %s@'%%'", (user,))
        finally:
            admin.close()


def test_mysql_init_refuses_root_before_touching_the_server():
    """Checked first: with nothing listening, the refusal is still about root, not the network."""
    settings = dataclasses.replace(mysql_server(), database="db_commandes")
    result = run_mysql_init(settings, "root", "whatever", port=1)
    assert result.returncode != 0
    assert "read-only account" in result.stderr
    assert "Can't connect" not in result.stderr


def test_the_read_only_account_is_set_up_at_every_start_not_only_on_an_empty_volume():
    """mysql-init runs the script at every `up`, after mysql is healthy; the image's init folder
    (skipped on an existing data volume) no longer holds it, and nothing defaults to root."""
    all_services = services()
    mysql_mounts = " ".join(all_services["mysql"]["volumes"])
    assert "readonly-user.sh" not in mysql_mounts
    init = all_services["mysql-init"]
    assert init["entrypoint"] == ["bash", "/usr/local/bin/readonly-user.sh"]
    assert any(v.startswith("./docker/mysql/readonly-user.sh:") for v in init["volumes"])
    env = environment(init)
    assert env["SHUTTER_RO_USER"] == "${MYSQL_READONLY_USER:-shutter_ro}"
    assert env["MYSQL_HOST"] == "mysql"
    assert init["depends_on"] == {"mysql": {"condition": "service_healthy"}}
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line
    )
    assert example["MYSQL_READONLY_USER"] not in ("", "root")
    assert example["POSTGRES_PIPELINE_USER"] not in ("", "postgres")


@pytest.mark.integration
def test_vsftpd_config_serves_uploads_to_the_platform_over_ftp(drop_user, tmp_path_factory):
    """docker/vsftpd/vsftpd.conf run natively with the entrypoint's additions, as the container.

    A machine uploads into /logs (the chroot itself is read-only), the compose healthcheck sees
    the banner, and the platform's FTP client, pointed at FTP_REMOTE_DIR=/logs as compose sets
    it, lists the file.
    """

    work = Path(tempfile.mkdtemp(prefix="shutter-stack-vsftpd-"))
    work.chmod(0o755)
    chroot = work / "srv_ftp"
    (chroot / "logs").mkdir(parents=True)
    chroot.chmod(0o555)  # as the entrypoint: chown root, 0555
    os.chown(chroot / "logs", drop_user.uid, drop_user.gid)
    empty = work / "empty"
    empty.mkdir(mode=0o755)
    (work / "user_list").write_text(drop_user.name + "\n")
    port, pasv = free_port(), free_port()
    ftp_env = environment(services()["ftp"])
    assert ftp_env["FTP_PASV_MIN_PORT"] and ftp_env["FTP_PASV_MAX_PORT"]
    overrides = {
        # what the entrypoint appends, and the paths it creates inside the image
        "pasv_address": "127.0.0.1",
        "pasv_min_port": str(pasv),
        "pasv_max_port": str(pasv),
        "local_root": str(chroot),
        "userlist_file": str(work / "user_list"),
        "secure_chroot_dir": str(empty),
        "vsftpd_log_file": str(work / "vsftpd.log"),
        "listen_port": str(port),
        "listen_address": "127.0.0.1",
    }
    cmd = ["/usr/sbin/vsftpd", str(ROOT / "docker/vsftpd/vsftpd.conf")]
    cmd += [f"-o{key}={value}" for key, value in overrides.items()]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        health = services()["ftp"]["healthcheck"]["test"][1:]
        health = [a.replace("/127.0.0.1/21", f"/127.0.0.1/{port}") for a in health]
        deadline = time.monotonic() + 20
        while subprocess.run(health, capture_output=True, timeout=10).returncode != 0:
            assert proc.poll() is None, "vsftpd exited at start-up"
            assert time.monotonic() < deadline, "compose ftp healthcheck never passed"
            time.sleep(0.3)
        with ftplib.FTP() as ftp:  # noqa: S321 - the plant's machines speak plain FTP
            ftp.connect("127.0.0.1", port, timeout=10)
            ftp.login(drop_user.name, drop_user.password)
            assert ftp.pwd() == "/"  # chrooted
            with pytest.raises(ftplib.error_perm):
                ftp.storbinary("STOR stray.log", io.BytesIO(b"x"))
            ftp.storbinary("STOR logs/CU-01_20261120_060000.log", io.BytesIO(b"header\n"))
            with pytest.raises(ftplib.error_perm):
                ftp.sendcmd("SITE CHMOD 777 logs/CU-01_20261120_060000.log")
        settings = DropSettings(
            protocol="ftp",
            host="127.0.0.1",
            port=port,
            user=drop_user.name,
            password=drop_user.password,
            remote_dir=environment(services()["dagster-code"])["FTP_REMOTE_DIR"],
        )
        with open_drop(settings) as drop:
            files = drop.list_files()
        assert [(f.path, f.size) for f in files] == [("CU-01_20261120_060000.log", 7)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def memory_mib(value: str) -> int:
    """A compose (``3584m``, ``3g``) or Kubernetes (``768Mi``, ``3Gi``) memory quantity in MiB."""
    m = re.fullmatch(r"(\d+)\s*(m|g|Mi|Gi)", str(value))
    assert m, f"unexpected memory quantity {value!r}"
    return int(m.group(1)) * (1024 if m.group(2) in ("g", "Gi") else 1)


def test_concurrency_and_memory_follow_the_one_sizing_file():
    sizing = yaml.safe_load((ROOT / "deploy/sizing.yaml").read_text())
    runs, run_mib = sizing["max_concurrent_runs"], sizing["run_memory_mib"]
    server_mib = sizing["code_server_memory_mib"]
    measured = sizing["measured"]
    # the budgets cover what bench/run_memory.py measured, with headroom
    assert run_mib >= 1.2 * measured["heaviest_run_peak_mib"] > 0
    assert server_mib >= 1.2 * measured["code_server_mib"] > 0

    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert instance["run_coordinator"]["config"]["max_concurrent_runs"] == runs

    limits = {
        name: memory_mib(svc["deploy"]["resources"]["limits"]["memory"])
        for name, svc in services().items()
    }
    # DefaultRunLauncher: every run is a subprocess of the code server's container
    assert limits["dagster-code"] == server_mib + runs * run_mib
    assert limits["dagster-webserver"] == sizing["webserver_memory_mib"]
    assert limits["dagster-daemon"] == sizing["daemon_memory_mib"]

    values = yaml.safe_load((ROOT / "deploy/helm/values.yaml").read_text())
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == runs
    # K8sRunLauncher: each run its own pod, the code server alone in its deployment
    run_pod = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert memory_mib(run_pod["containerConfig"]["resources"]["limits"]["memory"]) == run_mib
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert memory_mib(deployment["resources"]["limits"]["memory"]) == server_mib
    webserver = values["dagsterWebserver"]["resources"]["limits"]["memory"]
    assert memory_mib(webserver) == sizing["webserver_memory_mib"]
    daemon = values["dagsterDaemon"]["resources"]["limits"]["memory"]
    assert memory_mib(daemon) == sizing["daemon_memory_mib"]


def test_helm_values_run_the_same_code_location_with_the_same_queue():
    values = yaml.safe_load((ROOT / "deploy/helm/values.yaml").read_text())
    code = command(services()["dagster-code"])
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert option(args, "-m") == option(code, "-m", "--module-name")
    assert option(args, "--location-name") == option(code, "--location-name")
    assert deployment["image"]["tag"] != "latest"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlPassword"] == ""  # from the Kubernetes Secret
    assert values["generatePostgresqlPasswordSecret"] is False
    instance = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert (
        queue["tagConcurrencyLimits"]
        == instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    )
    assert (
        values["postgresql"]["postgresqlScheme"]
        == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    )
    assert (
        values["retention"]["sensor"]["purgeAfterDays"]
        == (instance["retention"]["sensor"]["purge_after_days"])
    )
    assert values["telemetry"] == {"enabled": False}
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"


def shell_healthcheck(service: str) -> str:
    """The CMD-SHELL probe as the container's shell sees it ($$ is compose's escape for $)."""
    test = services()[service]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL", test
    return test[1].replace("$$", "$")


@pytest.mark.integration
def test_database_healthchecks_pass_against_running_servers():
    pg, my = server_postgres(), mysql_server()
    pg_env = {
        **os.environ,
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_DB": "postgres",
    }
    result = subprocess.run(
        ["sh", "-c", shell_healthcheck("postgres")], env=pg_env, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result
    if my.port == 3306:  # the probe uses the container's default port
        with tempfile.NamedTemporaryFile("w", prefix="shutter-health-") as root_pw:
            root_pw.write(my.password)
            root_pw.flush()
            my_env = {**os.environ, "MYSQL_ROOT_PASSWORD_FILE": root_pw.name}
            result = subprocess.run(
                ["sh", "-c", shell_healthcheck("mysql")],
                env=my_env,
                capture_output=True,
                timeout=30,
            )
        assert result.returncode == 0, result
    # And they fail when nothing listens, or the stack would start on dead databases.
    dead = {**pg_env, "PGPORT": "1"}
    result = subprocess.run(
        ["sh", "-c", shell_healthcheck("postgres")], env=dead, capture_output=True, timeout=30
    )
    assert result.returncode != 0


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert found, "PostgreSQL server binaries not found under /usr/lib/postgresql"
    return found[-1].parent


@pytest.mark.integration
def test_postgres_healthcheck_waits_for_tcp_not_the_init_servers_socket():
    """On first boot the image's temporary server listens on its socket only
    (listen_addresses=''), then restarts on TCP: the probe must only pass on the second.

    A private server (initdb in a temporary folder, run as the postgres user) plays both.
    """

    work = Path(tempfile.mkdtemp(prefix="shutter-stack-pg-"))  # the postgres user must reach it
    work.chmod(0o755)
    shutil.chown(work, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_postgres,
            str(pg_bindir() / "initdb"),
            "-D",
            str(work / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    env = {
        **os.environ,
        "PGPORT": str(port),
        "PGHOST": str(work),
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
    }

    def serve(listen: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [
                *as_postgres,
                str(pg_bindir() / "postgres"),
                "-D",
                str(work / "data"),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={listen}",
                "-c",
                f"unix_socket_directories={work}",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        socket_ready = ["pg_isready", "-h", str(work), "-p", str(port), "-U", "postgres"]
        deadline = time.monotonic() + 30
        while subprocess.run(socket_ready, capture_output=True, timeout=10).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "private server down"
            time.sleep(0.2)
        return proc

    def probe() -> int:
        return subprocess.run(
            ["sh", "-c", shell_healthcheck("postgres")], env=env, capture_output=True, timeout=30
        ).returncode

    def stop(proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)

    init_server = serve("")  # the entrypoint's temporary server: socket only
    try:
        assert probe() != 0, "healthy while clients cannot connect over TCP yet"
        # what the former probe (no -h) said at that moment
        old = ["pg_isready", "-U", "postgres", "-d", "postgres"]
        assert subprocess.run(old, env=env, capture_output=True, timeout=30).returncode == 0
    finally:
        stop(init_server)
    server = serve("127.0.0.1")
    try:
        assert probe() == 0
    finally:
        stop(server)
        shutil.rmtree(work, ignore_errors=True)


# The .env of the stack: no password in it any more (they are files under secrets/).
COMPOSE_TEST_ENV = {
    "POSTGRES_USER": "postgres",
    "FTP_USER": "machines",
    "FTP_PASV_ADDRESS": "10.0.0.5",
    "PROXY_AUTH_USER": "plant-it",
    "PROXY_AUTH_HASH": "'$2a$14$abcdefghijklmnopqrstuv'",
    "PROXY_HOSTNAME": "dagster.plant.internal",
    "API_KEYS": "erp:" + "0" * 64,
}


def read_secret_file(path: Path) -> str:
    """The X_FILE convention, as the tests read it: the file's text, trailing newlines off."""
    return path.read_text().rstrip("\r\n")


def write_secrets(folder: Path, values: dict[str, str] | None = None) -> dict[str, str]:
    """One file per secret of the compose file (as scripts/stack_secrets.sh leaves them), each
    holding ``<name>-pw`` unless ``values`` says otherwise; returns name -> value."""
    folder.mkdir(exist_ok=True)
    written = {}
    for name in load_compose()["secrets"]:
        written[name] = (values or {}).get(name, f"{name}-pw")
        (folder / name).write_text(written[name] + "\n")
    return written


def container_secrets(rendered: dict[str, Any], service: str) -> dict[str, str]:
    """What each program of ``service`` gets: X -> the content of the secret X_FILE names (read
    from the host file the rendered config mounts)."""
    files = {name: Path(s["file"]) for name, s in rendered["secrets"].items()}
    svc = rendered["services"][service]
    return {var: read_secret_file(files[name]) for name, var in mounted_secrets(svc).items()}


def compose_ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`docker-compose config` (Debian's Python compose, no engine needed) on a copy of the file.

    That validator predates the top-level ``name:`` key, the only line left out of the copy;
    the copy sits beside links to docker/ and shutter_assets/ so relative mounts resolve.
    """
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed: apt-get install docker-compose (.ci/run does)"
    lines = COMPOSE_FILE.read_text().splitlines()
    (tmp_path / "docker-compose.yaml").write_text(
        "\n".join(ln for ln in lines if not re.match(r"name:\s", ln)) + "\n"
    )
    for folder in ("docker", "shutter_assets"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "test.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean_env = {k: v for k, v in os.environ.items() if k not in env_example_names()}
    return subprocess.run(
        [binary, "--env-file", "test.env", "-f", "docker-compose.yaml", "config"],
        cwd=tmp_path,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_is_valid_for_compose_with_a_complete_env(tmp_path):
    written = write_secrets(tmp_path / "secrets")
    rendered = yaml.safe_load(compose_ok(compose_config(tmp_path, COMPOSE_TEST_ENV)))
    assert set(rendered["services"]) == set(services())
    proxy_env = rendered["services"]["proxy"]["environment"]
    # the bcrypt hash arrives intact ("$$" is how compose prints a literal "$")
    assert proxy_env["PROXY_AUTH_HASH"].replace("$$", "$") == "$2a$14$abcdefghijklmnopqrstuv"
    code_env = rendered["services"]["dagster-code"]["environment"]
    assert code_env["POSTGRES_USER"] == "shutter_pipeline"
    assert code_env["MYSQL_USER"] == "shutter_ro"
    assert code_env["POSTGRES_HOST"] == "postgres"
    code = container_secrets(rendered, "dagster-code")
    assert code["POSTGRES_PASSWORD"] == written["postgres_pipeline_password"]
    assert code["MYSQL_PASSWORD"] == written["mysql_readonly_password"]
    postgres = container_secrets(rendered, "postgres")
    assert postgres == {"POSTGRES_PASSWORD": written["postgres_password"]}


def rendered_env(result: subprocess.CompletedProcess, service: str, name: str) -> str:
    """A variable as the container gets it ("$$" is how `config` prints a literal "$")."""
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"][service]["environment"][name].replace(
        "$$", "$"
    )


def test_a_secret_with_a_dollar_arrives_whole_when_quoted_as_env_example_says(tmp_path):
    """Unquoted, compose v2 expands ``$ecret`` to nothing (``Str0ng$ecret`` -> ``Str0ng``).
    A password in a secret file is never interpolated: every service mounting it reads it whole,
    through the images' own reader (docker/secret-env.sh) too. What stays in .env (the hashes) is
    single-quoted, as .env.example writes it, and taken literally by compose and by the shell
    that `make` sources .env with."""
    secret = f"{secrets.token_urlsafe(8)}$ecret$1"
    write_secrets(tmp_path / "secrets", {"postgres_pipeline_password": secret})
    hashed = "$2a$14$" + "x" * 53
    quoted = {**COMPOSE_TEST_ENV, "PROXY_AUTH_HASH": f"'{hashed}'"}
    result = compose_config(tmp_path, quoted)
    rendered = yaml.safe_load(compose_ok(result))
    for service in (*DAGSTER_SERVICES, "warehouse-init"):
        var = "POSTGRES_PASSWORD" if service != "warehouse-init" else "POSTGRES_PIPELINE_PASSWORD"
        assert container_secrets(rendered, service)[var] == secret, service
        file_var = rendered["services"][service]["environment"][f"{var}_FILE"]
        mounted = {
            "PATH": os.environ["PATH"],
            f"{var}_FILE": str(tmp_path / "secrets" / Path(file_var).name),
        }
        assert source_secret(mounted, var).stdout.decode() == secret, service
    assert rendered_env(result, "proxy", "PROXY_AUTH_HASH") == hashed
    sourced = subprocess.run(
        ["bash", "-c", 'set -a; . ./test.env; printf %s "$PROXY_AUTH_HASH"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert sourced.stdout == hashed


def test_env_example_quotes_every_secret():
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m and re.search(r"PASSWORD|_PWD$|SECRET|TOKEN|HASH", m.group(1)):
            assert re.fullmatch(r"'[^']*'", m.group(2)), f".env.example: quote {line!r}"


@pytest.mark.parametrize(
    "missing",
    [
        "PROXY_AUTH_HASH",
        "PROXY_HOSTNAME",
        "FTP_PASV_ADDRESS",
        "API_KEYS",
    ],
)
def test_compose_refuses_to_start_without_a_required_secret(tmp_path, missing):
    env = {k: v for k, v in COMPOSE_TEST_ENV.items() if k != missing}
    result = compose_config(tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_pymysql_declares_the_crypto_mysql_8_authentication_needs():
    """MySQL 8's default caching_sha2_password over a plain connection needs RSA (cryptography):
    declared through PyMySQL's own extra, not inherited by chance from paramiko."""
    import importlib.metadata

    deps = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"pymysql\[rsa\][<>=,.\d]*"', deps), "declare pymysql[rsa] in pyproject"
    extra = [r for r in importlib.metadata.requires("pymysql") or [] if 'extra == "rsa"' in r]
    assert any(r.startswith("cryptography") for r in extra), extra
    importlib.metadata.version("cryptography")  # installed
