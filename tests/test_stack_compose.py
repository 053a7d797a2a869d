"""Static verification of the production stack (there is no Docker engine on the build machine).

docker-compose.yaml, dagster.yaml and the files under docker/ are checked for the properties a
plant's IT relies on (health-gated start-up, restart policy, limits, no secret in the file, only the
proxy exposing the UI), and the init scripts the containers run are executed here against the real
local PostgreSQL and MariaDB. The Dagster commands themselves run natively in test_stack_native.py.
"""

from __future__ import annotations

import ftplib
import io
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml
from psycopg import sql

from shutter_assets.lib.drop import DropSettings, open_drop
from tests.fixtures.databases import server_mysql as mysql_server
from tests.fixtures.databases import server_postgres

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; "$$" escapes a literal $.
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?+])[^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|HASH|_KEY$|API_KEY", re.IGNORECASE)


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
            assert spec.get("condition") == "service_healthy", f"{name} -> {dep}: {spec}"
    # The start order a deployment needs: storage before Dagster, Dagster before the proxy.
    for name in DAGSTER_SERVICES:
        assert "postgres" in all_services[name]["depends_on"], f"{name} must wait for postgres"
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "dagster-code" in all_services[name]["depends_on"]
    assert "dagster-webserver" in all_services["proxy"]["depends_on"]


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
                assert VAR_REF.fullmatch(value), f"{name}: {key} must come from .env, not {value!r}"
        for arg in (svc.get("healthcheck") or {}).get("test", []):
            assert not re.search(r"(-p|--password=)\S", arg), f"{name}: password in healthcheck"
    # No "password: literal" anywhere, nor a bcrypt/htpasswd hash pasted in.
    for m in re.finditer(r"(?im)^\s*[\w-]*(password|secret|token)[\w-]*\s*[:=]\s*(\S+)", text):
        assert m.group(2).startswith("${"), f"literal secret in compose: {m.group(0).strip()}"
    assert not re.search(r"\$2[aby]\$\d\d\$|\$apr1\$", text), "password hash pasted in compose"


def test_required_secrets_make_compose_refuse_to_start_when_unset():
    text = compose_text_without_comments()
    for var in ("POSTGRES_PASSWORD", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD", "FTP_PASSWORD"):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} must be ${{{var}:?...}}"
    assert re.search(r"\$\{PROXY_AUTH_HASH:\?", text)


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
    for name in DAGSTER_SERVICES:
        env = environment(services()[name])
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
    assert 8080 in published_targets(all_services["proxy"])
    caddyfile = (ROOT / "docker/proxy/Caddyfile").read_text()
    proxy_env = environment(all_services["proxy"])
    assert proxy_env["DAGSTER_WEBSERVER_UPSTREAM"] == f"dagster-webserver:{web_port}"
    assert "basicauth" in caddyfile and "{$PROXY_AUTH_HASH}" in caddyfile
    # Every site block but the health probe is behind the auth snippet.
    assert caddyfile.count("import auth") == 2


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
    code_check = all_services["dagster-code"]["healthcheck"]["test"]
    assert code_check[1:4] == ["dagster", "api", "grpc-health-check"]
    assert option(code_check, "-p") == option(code, "-p", "--port")
    assert all_services["dagster-daemon"]["healthcheck"]["test"][1:] == [
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


# Settings the code reads through the resources' helpers or os.environ (shutter_assets/**.py).
CODE_ENV_READ = re.compile(
    r"(?:EnvVar(?:\.int)?|_env(?:_int)?|environ\.get|getenv)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
)
# The compose drop is plain FTP on the stack's network: the SFTP/FTPS-only settings stay unset.
NOT_FOR_COMPOSE = {"SFTP_KNOWN_HOSTS", "SFTP_INSECURE_ACCEPT_ANY_HOST_KEY", "FTP_TLS_CA_FILE"}


def code_env_vars() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "shutter_assets").rglob("*.py"):
        found |= set(CODE_ENV_READ.findall(path.read_text()))
    return found


def test_dagster_containers_receive_every_documented_setting_the_code_reads():
    """A variable added to .env.example and read by the code must also reach the containers."""
    documented = env_example_names()
    needed = (code_env_vars() & documented) - NOT_FOR_COMPOSE
    assert {"POSTGRES_HOST", "FTP_PROTOCOL", "PLANT_TIMEZONE"} <= needed, needed
    for name in DAGSTER_SERVICES:
        missing = needed - set(environment(services()[name]))
        assert not missing, f"{name} lacks {sorted(missing)} (read by shutter_assets)"


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
    for name in DAGSTER_SERVICES:
        missing = needed - set(environment(services()[name]))
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


@pytest.mark.integration
def test_postgres_init_script_creates_the_dagster_database_once():
    server = server_postgres()
    name = f"shutter_test_dagster_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "PGHOST": server.host,
        "PGPORT": str(server.port),
        "PGPASSWORD": server.password,
        "POSTGRES_USER": server.user,
        "POSTGRES_DB": "postgres",
        "DAGSTER_PG_DB": name,
    }
    script = ROOT / "docker/postgres/10-dagster-db.sh"
    try:
        for _ in range(2):  # the second start finds it and does nothing
            result = subprocess.run(
                ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0, result.stderr
        with server.connect(autocommit=True) as conn:
            row = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        assert row == (1,)
    finally:
        with server.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def run_mysql_init(mysql_settings, user: str, password: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MYSQL_HOST": mysql_settings.host,
        "MYSQL_TCP_PORT": str(mysql_settings.port),
        "MYSQL_PWD": mysql_settings.password,
        "MYSQL_DATABASE": mysql_settings.database,
        "SHUTTER_RO_USER": user,
        "SHUTTER_RO_PASSWORD": password,
    }
    return subprocess.run(
        ["bash", str(ROOT / "docker/mysql/20-readonly-user.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
    finally:
        admin = mysql_settings.connect()
        try:
            with admin.cursor() as cur:
                cur.execute("drop user if exists %s@'%%'", (user,))
        finally:
            admin.close()


@pytest.mark.integration
def test_mysql_init_refuses_to_demote_root(mysql_settings):
    result = run_mysql_init(mysql_settings, "root", "whatever")
    assert result.returncode != 0
    assert "read-only account" in result.stderr


@pytest.mark.integration
def test_vsftpd_config_serves_uploads_to_the_platform_over_ftp(drop_user, tmp_path_factory):
    """docker/vsftpd/vsftpd.conf run natively with the entrypoint's additions, as the container.

    A machine uploads into /logs (the chroot itself is read-only), the compose healthcheck sees
    the banner, and the platform's FTP client, pointed at FTP_REMOTE_DIR=/logs as compose sets
    it, lists the file.
    """

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

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
        my_env = {**os.environ, "MYSQL_ROOT_PASSWORD": my.password}
        result = subprocess.run(
            ["sh", "-c", shell_healthcheck("mysql")], env=my_env, capture_output=True, timeout=30
        )
        assert result.returncode == 0, result
    # And they fail when nothing listens, or the stack would start on dead databases.
    dead = {**pg_env, "PGPORT": "1"}
    result = subprocess.run(
        ["sh", "-c", shell_healthcheck("postgres")], env=dead, capture_output=True, timeout=30
    )
    assert result.returncode != 0


COMPOSE_TEST_ENV = {
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "pg-secret",
    "MYSQL_USER": "shutter_ro",
    "MYSQL_PASSWORD": "ro-secret",
    "MYSQL_ROOT_PASSWORD": "root-secret",
    "FTP_USER": "machines",
    "FTP_PASSWORD": "ftp-secret",
    "FTP_PASV_ADDRESS": "10.0.0.5",
    "PROXY_AUTH_USER": "plant-it",
    "PROXY_AUTH_HASH": "'$2a$14$abcdefghijklmnopqrstuv'",
    "API_DB_PASSWORD": "api-secret",
    "API_KEYS": "erp:" + "0" * 64,
}


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
    result = compose_config(tmp_path, COMPOSE_TEST_ENV)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == set(services())
    proxy_env = rendered["services"]["proxy"]["environment"]
    # the bcrypt hash arrives intact ("$$" is how compose prints a literal "$")
    assert proxy_env["PROXY_AUTH_HASH"].replace("$$", "$") == "$2a$14$abcdefghijklmnopqrstuv"
    code_env = rendered["services"]["dagster-code"]["environment"]
    assert code_env["POSTGRES_PASSWORD"] == "pg-secret"
    assert code_env["POSTGRES_HOST"] == "postgres"


@pytest.mark.parametrize(
    "missing", ["POSTGRES_PASSWORD", "PROXY_AUTH_HASH", "FTP_PASV_ADDRESS", "API_KEYS"]
)
def test_compose_refuses_to_start_without_a_required_secret(tmp_path, missing):
    env = {k: v for k, v in COMPOSE_TEST_ENV.items() if k != missing}
    result = compose_config(tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr
