"""Static checks of docker-compose.yml, the Dockerfiles, .dockerignore and the
files under deploy/. No Docker engine is needed: nothing is built or started.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.anxin_deploy_support import (
    CALLS,
    DEPLOY,
    DEV_IDP_ISSUER,
    GATEWAY_IDP_KEY_FILE,
    PERSISTENT_ENV,
    PORTS,
    REPO,
    REQUIRED_ENV,
    SERVICES,
    UID,
    check_collector_config,
    check_settings,
    contract_command,
    contract_env,
    copy_sources,
    db_url_var,
    dockerignore_rules,
    dockerignored,
    env_mapping,
    interpolate,
    parse_dockerfile,
    required_key_files,
)

COMPOSE_FILE = REPO / "docker-compose.yml"
INIT_SCRIPT = DEPLOY / "postgres" / "init-databases.sh"
SCHEMA = Path(__file__).with_name("schemas") / "compose_spec.json"
INFRA = ("postgres", "otel-collector", "jaeger")
PUBLISHED = {"gateway": {8000}, "jaeger": {16686}}  # service -> container ports


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def compose(raw_compose: dict) -> dict:
    """The file as `docker compose config` would see it with an empty
    environment: every ${VAR} must have a default."""
    return interpolate(raw_compose, environ={})


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _ports(service: dict) -> list[tuple[str | None, int | None, int]]:
    """(host ip, host port, container port) of each published port."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            out.append((entry.get("host_ip"), entry.get("published"), int(entry["target"])))
            continue
        spec = str(entry).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append((None, int(parts[0]), int(parts[1])))
        else:
            out.append((None, None, int(parts[0])))
    return out


def _volumes(service: dict) -> list[dict]:
    """Volumes in long form: type, source, target, read_only."""
    out = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            out.append(
                {
                    "type": entry.get("type", "volume"),
                    "source": entry.get("source"),
                    "target": entry["target"],
                    "read_only": bool(entry.get("read_only", False)),
                }
            )
            continue
        parts = str(entry).split(":")
        source, target = parts[0], parts[1]
        options = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append({"type": kind, "source": source, "target": target, "read_only": "ro" in options})
    return out


def _tmpfs_targets(service: dict) -> set[str]:
    tmpfs = service.get("tmpfs", [])
    tmpfs = [tmpfs] if isinstance(tmpfs, str) else tmpfs
    targets = {entry.split(":", 1)[0] for entry in tmpfs}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict) and volume.get("type") == "tmpfs":
            targets.add(volume["target"])
    return targets


def _depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started (short form)" for name in deps}
    return {name: (spec or {}).get("condition", "") for name, spec in deps.items()}


def _dockerfile(service: str) -> tuple[list, list]:
    return parse_dockerfile((REPO / "services" / service / "Dockerfile").read_text())


def _image_healthcheck(service: str) -> str | None:
    path = REPO / "services" / service / "Dockerfile"
    if not path.exists():
        return None
    _, stages = _dockerfile(service)
    checks = stages[-1].all("HEALTHCHECK")
    return checks[-1].args if checks else None


# --------------------------------------------------------------------------
# Init script: which databases and roles does it create?


def _run_init_script_with_stub_psql(tmp_path: Path, passwords: dict[str, str]) -> list[dict]:
    """Run the real script with a fake `psql` on PATH that records each call
    (its -v variables and the SQL on stdin)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.jsonl"
    stub = bindir / "psql"
    stub.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            args = sys.argv[1:]
            variables, dbname = {{}}, None
            i = 0
            while i < len(args):
                if args[i] == "-v":
                    key, _, value = args[i + 1].partition("=")
                    variables[key] = value
                    i += 2
                    continue
                if args[i] in ("--dbname", "-d"):
                    dbname = args[i + 1]
                    i += 2
                    continue
                i += 1
            with open({str(log)!r}, "a") as fh:
                fh.write(json.dumps({{"vars": variables, "dbname": dbname,
                                      "sql": sys.stdin.read()}}) + "\\n")
            """
        )
    )
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        **passwords,
    }
    result = subprocess.run(
        ["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def _created(calls: list[dict]) -> dict[str, dict[str, str]]:
    """database -> {"owner": role, "password": password} from recorded calls."""
    created = {}
    for call in calls:
        sql = call["sql"]
        if 'CREATE DATABASE :"database"' in sql and 'CREATE ROLE :"role"' in sql:
            variables = call["vars"]
            created[variables["database"]] = {
                "owner": variables["role"],
                "password": variables["password"],
            }
    return created


@pytest.fixture(scope="module")
def postgres_env(services: dict) -> dict[str, str]:
    return env_mapping(services["postgres"].get("environment"))


@pytest.fixture(scope="module")
def init_result(tmp_path_factory, postgres_env: dict[str, str]) -> dict[str, dict[str, str]]:
    passwords = {k: v for k, v in postgres_env.items() if k.endswith("_DB_PASSWORD")}
    calls = _run_init_script_with_stub_psql(tmp_path_factory.mktemp("init"), passwords)
    return _created(calls)


# --------------------------------------------------------------------------
# The compose file itself


def test_compose_validates_against_the_compose_spec_schema(raw_compose: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(raw_compose), key=str)
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_every_variable_has_a_default(raw_compose: dict) -> None:
    # interpolate() raises on ${VAR} without a default; `compose` fixture did it.
    interpolate(raw_compose, environ={})


def test_the_stack_has_the_expected_services(services: dict) -> None:
    assert set(services) == set(SERVICES) | set(INFRA)


@pytest.mark.parametrize("name", SERVICES)
def test_service_builds_its_own_dockerfile_from_the_repo_root(services: dict, name: str) -> None:
    build = services[name]["build"]
    assert Path(build["context"]) == Path(".")
    assert build["dockerfile"] == f"services/{name}/Dockerfile"
    assert (REPO / build["dockerfile"]).is_file()


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_the_contract_command_on_the_contract_port(services: dict, name: str) -> None:
    service = services[name]
    command = service.get("command")
    if command is None:  # falls back to the image's CMD
        _, stages = _dockerfile(name)
        command = json.loads(stages[-1].all("CMD")[-1].args)
    assert command == contract_command(name)
    if name not in PUBLISHED:
        assert [int(p) for p in service.get("expose", [])] == [PORTS[name]]


@pytest.mark.parametrize("name", SERVICES)
def test_service_environment_follows_the_contract(services: dict, name: str) -> None:
    env = env_mapping(services[name].get("environment"))
    for key, value in contract_env(name).items():
        assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}, expected {value!r}"
    assert env.get("OTEL_SERVICE_NAME") == f"anxin-{name}"
    if name == "gateway":
        assert env.get("ANXIN_GATEWAY_IDP_PUBLIC_KEY_FILE") == GATEWAY_IDP_KEY_FILE
        assert env.get("ANXIN_GATEWAY_IDP_ISSUER") not in (None, "", DEV_IDP_ISSUER)
    # Peer URLs point at compose services that exist, on their contract port.
    for key, value in env.items():
        if key.startswith("ANXIN_") and key.endswith("_URL") and "DATABASE" not in key:
            url = urlsplit(value)
            host = str(url.hostname)
            assert host in services, f"{name}: {key} names unknown host {host}"
            assert url.port == PORTS[host]


@pytest.mark.parametrize("name", SERVICES)
def test_database_url_names_a_database_that_the_init_script_creates(
    services: dict, postgres_env: dict, init_result: dict, name: str
) -> None:
    env = env_mapping(services[name].get("environment"))
    url = urlsplit(env[db_url_var(name)])
    assert url.scheme == "postgresql+psycopg"
    assert url.hostname == "postgres" and "postgres" in services
    assert url.port == 5432
    database = url.path.lstrip("/")
    assert database == f"anxin_{name}", "one database per service, named anxin_<service>"
    assert database in init_result, f"init-databases.sh does not create {database}"
    assert init_result[database]["owner"] == url.username == f"anxin_{name}"
    # The password in the URL is the one the init script gave the role.
    assert init_result[database]["password"] == url.password
    assert postgres_env[f"ANXIN_{name.upper()}_DB_PASSWORD"] == url.password


def test_init_script_creates_exactly_one_database_and_role_per_service(
    init_result: dict,
) -> None:
    assert set(init_result) == {f"anxin_{s}" for s in SERVICES}
    assert {v["owner"] for v in init_result.values()} == {f"anxin_{s}" for s in SERVICES}


def test_init_script_fails_without_a_password(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "POSTGRES_USER": "postgres"}
    result = subprocess.run(
        ["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ANXIN_GATEWAY_DB_PASSWORD" in result.stderr


def test_init_script_is_mounted_into_the_postgres_entrypoint(services: dict) -> None:
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    mounts = {v["target"]: v for v in _volumes(postgres)}
    script = [
        v
        for t, v in mounts.items()
        if t.startswith("/docker-entrypoint-initdb.d/") and t.endswith(".sh")
    ]
    assert len(script) == 1
    assert (REPO / script[0]["source"]).resolve() == INIT_SCRIPT
    assert script[0]["read_only"]
    # The entrypoint runs executable *.sh files (it would `source` others).
    assert os.access(INIT_SCRIPT, os.X_OK)


def _pg_tools() -> dict[str, str] | None:
    found = {}
    for tool in ("initdb", "pg_ctl", "psql"):
        path = shutil.which(tool)
        if path is None:
            candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
            path = str(candidates[-1]) if candidates else None
        if path is None:
            return None
        found[tool] = path
    return found


def _runner() -> list[str] | None:
    """initdb refuses to run as root: use the postgres account if we are root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        probe = subprocess.run(["id", "-u", "postgres"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["runuser", "-u", "postgres", "--"]
    return None


@pytest.mark.skipif(_pg_tools() is None, reason="PostgreSQL server binaries not installed")
@pytest.mark.skipif(_runner() is None, reason="cannot run PostgreSQL as a non-root user")
def test_init_script_against_a_real_throwaway_postgres() -> None:
    """Runs the script on a temporary cluster (Unix socket only, no TCP), then
    checks each role reaches its own database and not another one's."""
    tools, runner = _pg_tools(), _runner()
    assert tools is not None and runner is not None
    # Not under pytest's tmp_path: its parents are private to root, and the
    # server runs as the postgres account.
    tmp_path = Path(tempfile.mkdtemp(prefix="anxin-pg-"))
    try:
        tmp_path.chmod(0o777)
        _init_script_on_real_postgres(tools, runner, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _init_script_on_real_postgres(tools: dict, runner: list[str], tmp_path: Path) -> None:
    data, sock = tmp_path / "data", tmp_path
    script = tmp_path / "init-databases.sh"
    shutil.copy(INIT_SCRIPT, script)
    script.chmod(0o755)
    passwords = {f"ANXIN_{s.upper()}_DB_PASSWORD": f"pw-{s}-'quote" for s in SERVICES}
    bindir = str(Path(tools["psql"]).parent)
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PGHOST": str(sock),
        "PGPORT": "55432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "LC_ALL": "C.UTF-8",
        **passwords,
    }

    def run(*cmd: str, check: bool = True, extra: dict | None = None):
        result = subprocess.run(
            [*runner, "env", *(f"{k}={v}" for k, v in {**env, **(extra or {})}.items()), *cmd],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    run(tools["initdb"], "-D", str(data), "-U", "postgres", "--auth-local=trust", "-E", "UTF8")
    # Roles authenticate with their passwords; only postgres is trusted.
    (data / "pg_hba.conf").write_text(
        "local all postgres trust\nlocal all all scram-sha-256\n", encoding="utf-8"
    )
    run(
        tools["pg_ctl"],
        "-D",
        str(data),
        "-w",
        "-l",
        str(tmp_path / "log"),
        "-o",
        f"-k {sock} -p 55432 -c listen_addresses=''",
        "start",
    )
    try:
        run("bash", str(script))
        for service in SERVICES:
            own = run(
                tools["psql"],
                "-U",
                f"anxin_{service}",
                "-d",
                f"anxin_{service}",
                "-Atc",
                "CREATE TABLE t (i int); SELECT current_database()",
                extra={"PGPASSWORD": passwords[f"ANXIN_{service.upper()}_DB_PASSWORD"]},
            )
            assert own.stdout.strip().splitlines()[-1] == f"anxin_{service}"
            other = "audit" if service != "audit" else "gateway"
            denied = run(
                tools["psql"],
                "-U",
                f"anxin_{service}",
                "-d",
                f"anxin_{other}",
                "-Atc",
                "SELECT 1",
                check=False,
                extra={"PGPASSWORD": passwords[f"ANXIN_{service.upper()}_DB_PASSWORD"]},
            )
            assert denied.returncode != 0 and "permission denied" in denied.stderr
    finally:
        run(tools["pg_ctl"], "-D", str(data), "-m", "immediate", "stop", check=False)


def test_only_the_gateway_and_the_jaeger_ui_publish_ports(services: dict) -> None:
    publishing = {name: {c for _, _, c in _ports(s)} for name, s in services.items() if _ports(s)}
    assert publishing == PUBLISHED
    gateway_ports = _ports(services["gateway"])
    assert [(h, c) for _, h, c in gateway_ports] == [(PORTS["gateway"], PORTS["gateway"])]
    for name, service in services.items():
        assert service.get("network_mode") != "host", name


@pytest.mark.parametrize("name", SERVICES)
def test_service_mounts_policies_and_keys_read_only(services: dict, name: str) -> None:
    mounts = {v["target"]: v for v in _volumes(services[name])}
    policies = mounts["/etc/anxin/policies"]
    assert (REPO / policies["source"]).resolve() == REPO / "policies"
    assert policies["read_only"], "policies must be mounted read-only"
    keys = mounts["/etc/anxin/keys"]
    assert keys["read_only"], "keys must be mounted read-only"
    # Each service sees its own key folder (its private key, everyone's public keys).
    assert (REPO / keys["source"]).resolve() == DEPLOY / "keys" / name
    # No other mount is writable: state goes to tmpfs, except what must persist
    # (audit archives and anchors), on a named volume.
    env = env_mapping(services[name].get("environment"))
    persistent = {env[key] for key in PERSISTENT_ENV.get(name, ())}
    for target, volume in mounts.items():
        if volume["read_only"]:
            continue
        assert volume["type"] == "volume", f"{name}: {target} is a writable bind mount"
        assert any(path.startswith(target + "/") for path in persistent), (
            f"{name}: {target} is mounted writable"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_hardened(services: dict, name: str) -> None:
    service = services[name]
    assert service.get("read_only") is True, "root filesystem must be read-only"
    assert {"/var/lib/anxin", "/tmp"} <= _tmpfs_targets(service)  # noqa: S108
    for entry in service["tmpfs"]:
        target, _, options = entry.partition(":")
        assert f"uid={UID}" in options, f"{name}: tmpfs {target} must belong to uid {UID}"
    assert str(service.get("user", "")).split(":")[0] == str(UID)
    assert "ALL" in service.get("cap_drop", [])
    assert "no-new-privileges:true" in service.get("security_opt", [])
    assert not service.get("privileged", False)


def test_every_service_has_a_healthcheck_or_conditional_dependencies(services: dict) -> None:
    for name, service in services.items():
        has_health = "healthcheck" in service or _image_healthcheck(name) is not None
        deps = _depends_on(service)
        conditional = bool(deps) and all(
            c in ("service_started", "service_healthy", "service_completed_successfully")
            for c in deps.values()
        )
        assert has_health or conditional, f"{name}: no healthcheck and no conditional depends_on"


def test_depends_on_uses_conditions_that_can_be_met(services: dict) -> None:
    for name, service in services.items():
        for dep, condition in _depends_on(service).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert condition in ("service_started", "service_healthy"), f"{name} -> {dep}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep] or _image_healthcheck(dep), (
                    f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
                )


def test_startup_order_follows_the_call_graph_and_has_no_cycle(services: dict) -> None:
    for name in SERVICES:
        deps = _depends_on(services[name])
        assert deps.get("postgres") == "service_healthy", f"{name} must wait for its database"
    # The gateway waits for every backend, and every producer for audit (its outbox
    # sink). Consent and profile call each other at request time, never at start-up,
    # so those edges of the call graph cannot (and need not) order the start.
    for caller, callees in CALLS.items():
        for callee in callees:
            if caller != "gateway" and callee != "audit":
                continue
            assert _depends_on(services[caller]).get(callee) == "service_healthy", (
                f"{caller} calls {callee}: it should wait until {callee} is healthy"
            )
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "active", f"depends_on cycle: {' -> '.join([*path, node])}"
        state[node] = "active"
        for dep in _depends_on(services[node]):
            visit(dep, [*path, node])
        state[node] = "done"

    for name in services:
        visit(name, [])


def test_networks_are_user_defined_and_only_the_edge_reaches_outside(
    compose: dict, services: dict
) -> None:
    networks = compose.get("networks", {})
    assert networks, "use a user-defined network"
    for name, service in services.items():
        attached = service.get("networks")
        assert attached, f"{name} is on the default network"
        attached = list(attached) if isinstance(attached, (list, dict)) else [attached]
        for net in attached:
            assert net in networks, f"{name}: undeclared network {net}"
        external = [n for n in attached if not (networks[n] or {}).get("internal")]
        if name in PUBLISHED:
            assert external, f"{name} publishes ports but has no non-internal network"
        else:
            assert not external, f"{name} should only be on internal networks"


def test_telemetry_goes_through_the_collector_to_jaeger(services: dict) -> None:
    collector = services["otel-collector"]
    assert str(collector["image"]).startswith("otel/opentelemetry-collector-contrib:")
    assert not str(collector["image"]).endswith(":latest")
    mounts = {v["target"]: v for v in _volumes(collector)}
    config_mount = next(v for t, v in mounts.items() if t.endswith(".yaml"))
    assert (REPO / config_mount["source"]).resolve() == DEPLOY / "otel-collector.yaml"
    assert config_mount["read_only"]
    assert any(config_mount["target"] in arg for arg in collector.get("command", []))
    assert str(services["jaeger"]["image"]).startswith("jaegertracing/all-in-one:")
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    check_collector_config(config)
    traces = config["service"]["pipelines"]["traces"]
    endpoints = [config["exporters"][e].get("endpoint", "") for e in traces["exporters"]]
    assert "jaeger:4317" in endpoints, "traces must be exported to Jaeger over OTLP/gRPC"


# --------------------------------------------------------------------------
# Dockerfiles


def _render_module():
    path = DEPLOY / "docker" / "render_dockerfiles.py"
    spec = importlib.util.spec_from_file_location("render_dockerfiles", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_is_rendered_from_the_shared_template(name: str) -> None:
    render = _render_module()
    assert render.PORTS == PORTS
    current = (REPO / "services" / name / "Dockerfile").read_text(encoding="utf-8")
    assert current == render.render(name), (
        "Dockerfile differs from deploy/docker/Dockerfile.template: "
        "run `python deploy/docker/render_dockerfiles.py`"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_stages(name: str) -> None:
    _, stages = _dockerfile(name)
    names = [s.name for s in stages]
    assert names == ["base", "builder", "runtime"]
    assert stages[0].base.startswith("python:3.11-slim")
    assert stages[1].base == "base" and stages[2].base == "base", "both stages share `base`"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_runs_as_non_root(name: str) -> None:
    _, stages = _dockerfile(name)
    users = stages[-1].all("USER")
    assert users, "the runtime stage must set USER"
    user = users[-1].args.split(":")[0]
    assert user.isdigit(), "USER must be numeric so that runAsNonRoot can verify it"
    assert int(user) == UID
    # Nothing after USER switches back to root.
    after = stages[-1].instructions[stages[-1].instructions.index(users[-1]) :]
    assert not [i for i in after if i.keyword == "RUN"], "no RUN after USER"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_copies_only_shared_and_its_own_service(name: str) -> None:
    instructions, stages = _dockerfile(name)
    assert not [i for i in instructions if i.keyword == "ADD"], "use COPY, not ADD"
    for stage in stages:
        for ins in stage.all("COPY"):
            origin, sources, _ = copy_sources(ins)
            if origin is not None:
                continue
            for source in sources:
                source = source.rstrip("/") or "."
                ok = (
                    source in {"pyproject.toml", "uv.lock"}
                    or source == "shared"
                    or source.startswith("shared/")
                    or source == f"services/{name}"
                    or source.startswith(f"services/{name}/")
                )
                assert ok, f"line {ins.line}: COPY {source} is outside shared/ and services/{name}/"
    # The runtime image gets the built venv only, no source tree.
    for ins in stages[-1].all("COPY"):
        origin, sources, _ = copy_sources(ins)
        assert origin == "builder" and sources == ["/opt/venv"], ins.args
    others = [s for s in SERVICES if s != name]
    text = (REPO / "services" / name / "Dockerfile").read_text()
    for other in others:
        assert f"services/{other}" not in text
        assert f"anxin-{other}" not in text and f"anxin_{other}" not in text


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_installs_only_this_service_into_a_venv(name: str) -> None:
    _, stages = _dockerfile(name)
    runs = " ".join(i.args for i in stages[1].all("RUN"))
    assert f"--package anxin-{name}" in runs, "dependencies exported for this package only"
    assert "--frozen" in runs and "--require-hashes" in runs, "locked, hash-checked deps"
    assert "./shared" in runs and f"./services/{name}" in runs
    assert "/opt/venv" in runs
    env = " ".join(i.args for i in stages[-1].all("ENV"))
    assert "PATH=/opt/venv/bin:" in env


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_healthcheck_and_command(name: str) -> None:
    _, stages = _dockerfile(name)
    runtime = stages[-1]
    health = runtime.all("HEALTHCHECK")
    assert len(health) == 1
    args = health[0].args
    command = json.loads(args[args.index("CMD") + 3 :].strip())
    assert command[0] == "python", "slim images have no curl: probe with python"
    assert f"http://127.0.0.1:{PORTS[name]}/healthz" in command[-1]
    assert json.loads(runtime.all("CMD")[-1].args) == contract_command(name)
    assert [i.args for i in runtime.all("EXPOSE")] == [str(PORTS[name])]
    env = " ".join(i.args for i in runtime.all("ENV"))
    for key in ("ANXIN_ENV=prod", "ANXIN_VAR_DIR=/var/lib/anxin"):
        assert key in env


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_is_ready_for_a_read_only_root_filesystem(name: str) -> None:
    _, stages = _dockerfile(name)
    runtime = stages[-1]
    env = " ".join(i.args for i in runtime.all("ENV") + stages[0].all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "no .pyc writes at run time"
    runs = " ".join(i.args for i in runtime.all("RUN"))
    assert "/var/lib/anxin" in runs and f"chown {UID}:{UID} /var/lib/anxin" in runs
    assert "UV_COMPILE_BYTECODE=1" in " ".join(i.args for i in stages[1].all("ENV"))


@pytest.mark.parametrize("name", SERVICES)
def test_only_identity_installs_the_voice_engine_packages(name: str) -> None:
    _, stages = _dockerfile(name)
    runtime = stages[-1]
    text = " ".join(i.args for i in runtime.all("RUN") + runtime.all("ARG"))
    if name == "identity":
        assert "libsndfile1" in text and "ffmpeg" in text
        assert "apt-get install -y --no-install-recommends" in text
        assert "rm -rf /var/lib/apt/lists/*" in text
    else:
        assert "apt-get" not in text and "ffmpeg" not in text


@pytest.mark.parametrize("name", SERVICES)
def test_only_identity_installs_the_voice_engine_itself(name: str) -> None:
    """The identity image carries the voice extra's exact pins, CPU-only torch."""
    _, stages = _dockerfile(name)
    builder = next(stage for stage in stages if "builder" in (stage.name or "").lower())
    text = " ".join(i.args for i in builder.all("RUN") + builder.all("ARG"))
    if name != "identity":
        assert "torch" not in text and "resemblyzer" not in text
        return
    pins = _render_module().voice_pins()
    assert set(pins) == {"torch", "librosa", "resemblyzer"}
    for package, version in pins.items():
        assert f"{package}=={version}" in text, package
    assert "download.pytorch.org/whl/cpu" in text
    assert "--no-deps resemblyzer==" in text


def test_dockerignore_keeps_the_context_small_and_secret_free() -> None:
    rules = dockerignore_rules((REPO / ".dockerignore").read_text(encoding="utf-8"))
    needed = [
        "pyproject.toml",
        "uv.lock",
        "shared/pyproject.toml",
        "shared/anxin_shared/__init__.py",
        *(f"services/{s}/pyproject.toml" for s in SERVICES),
        *(f"services/{s}/anxin_{s}/__init__.py" for s in SERVICES),
        "services/identity/anxin_identity/voice/engine.py",
    ]
    for path in needed:
        assert not dockerignored(rules, path), f"{path} is needed by the builds"
    for path in (
        ".venv/bin/python",
        "var/anxin.db",
        ".git/config",
        "shared/anxin_shared/__pycache__/x.cpython-311.pyc",
        "services/audit/anxin_audit/__pycache__/main.cpython-311.pyc",
        ".pytest_cache/v/cache",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/0.6/x",
        "shared/.hypothesis/examples/x",
        "deploy/keys/gateway/gateway.key.pem",
        "services/gateway/dev.key.pem",
        "tests/deploy/test_compose.py",
        "k8s/base/kustomization.yaml",
        "policies/policy.csv",
        "services/profile/.venv/bin/python",
    ):
        assert dockerignored(rules, path), f"{path} must not be sent to the builder"
    # Every path a Dockerfile COPYs from the context survives .dockerignore.
    for name in SERVICES:
        instructions, _ = _dockerfile(name)
        for ins in instructions:
            if ins.keyword != "COPY":
                continue
            origin, sources, _ = copy_sources(ins)
            if origin is None:
                for source in sources:
                    assert (REPO / source).exists(), source
                    assert not dockerignored(rules, source.rstrip("/")), source


# --------------------------------------------------------------------------
# Keys


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_dev_key_generator_gives_each_service_only_its_own_private_key(tmp_path: Path) -> None:
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    keys = tmp_path / "keys"
    env = {**os.environ, "ANXIN_DEV_CLIENTS": "crm-dev ivr-dev"}
    result = subprocess.run(
        ["bash", str(DEPLOY / "gen-dev-keys.sh"), str(keys)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    public = {}
    for name in SERVICES:
        folder = keys / name
        private = sorted(p.name for p in folder.glob("*.key.pem"))
        assert private == [f"{name}.key.pem"], f"{name} sees private keys {private}"
        # (audit also gets the checkpoint key's public half, which is not a JWT issuer key.)
        extra = ["audit-checkpoint.ed25519.pub.pem"] if name == "audit" else []
        assert sorted(p.name for p in folder.glob("*.pub.pem")) == sorted(
            [f"{s}.pub.pem" for s in SERVICES] + ["idp.pub.pem", *extra]
        )
        assert sorted(p.name for p in (folder / "clients").iterdir()) == [
            "crm-dev.pub.pem",
            "ivr-dev.pub.pem",
        ]
        key = serialization.load_pem_private_key((folder / f"{name}.key.pem").read_bytes(), None)
        assert key.curve.name == "secp256r1"
        mine = serialization.load_pem_public_key((folder / f"{name}.pub.pem").read_bytes())
        assert mine.public_numbers() == key.public_key().public_numbers()
        public[name] = (folder / f"{name}.pub.pem").read_bytes()
        assert (folder / "idp.pub.pem").is_file(), GATEWAY_IDP_KEY_FILE
        assert b"BEGIN PRIVATE KEY" in (folder / f"{name}.key.pem").read_bytes(), "PKCS#8"
        # The container user (uid 10001) is not the developer: readable by all.
        assert (folder / f"{name}.key.pem").stat().st_mode & 0o004
    assert len(set(public.values())) == len(SERVICES), "each service has its own key pair"
    # Re-running keeps the existing key pairs.
    subprocess.run(
        ["bash", str(DEPLOY / "gen-dev-keys.sh"), str(keys)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (keys / "gateway" / "gateway.pub.pem").read_bytes() == public["gateway"]


def test_generated_keys_are_git_ignored() -> None:
    rules = [line.strip() for line in (DEPLOY / "keys" / ".gitignore").read_text().splitlines()]
    rules = [r for r in rules if r and not r.startswith("#")]
    assert rules == ["*", "!.gitignore"], "deploy/keys/ must ignore everything but itself"


# --------------------------------------------------------------------------
# Required settings and keys: what the services' settings modules demand in prod


@pytest.fixture(scope="module")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys = tmp_path_factory.mktemp("compose-keys") / "keys"
    subprocess.run(
        ["bash", str(DEPLOY / "gen-dev-keys.sh"), str(keys)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return keys


def _key_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", SERVICES)
def test_service_gets_every_setting_and_key_its_settings_require(
    services: dict, dev_keys: Path, tmp_path: Path, name: str
) -> None:
    env = env_mapping(services[name].get("environment"))
    for key in REQUIRED_ENV.get(name, ()):
        assert env.get(key), f"{name}: {key} must be set"
    # The keys folder compose mounts is what gen-dev-keys.sh lays out for this service.
    files = _key_files(dev_keys / name)
    missing = required_key_files(name, env) - files
    assert not missing, f"{name}: deploy/keys/{name} lacks {sorted(missing)}"
    settings = check_settings(name, env, files, tmp_path)  # raises as the container would
    assert settings.env == "prod" and not str(settings.database_url).startswith("sqlite")


@pytest.mark.parametrize(
    ("name", "drop"),
    [
        ("identity", "otp.key"),
        ("identity", "voiceprint.key"),
        ("audit", "audit-checkpoint.ed25519.pem"),
    ],
)
def test_the_settings_check_fails_without_a_required_key(
    services: dict, dev_keys: Path, tmp_path: Path, name: str, drop: str
) -> None:
    env = env_mapping(services[name].get("environment"))
    files = _key_files(dev_keys / name) - {drop}
    with pytest.raises(Exception, match=r"required|missing"):
        check_settings(name, env, files, tmp_path)


def test_audit_archives_and_anchors_live_on_a_named_volume(
    raw_compose: dict, services: dict
) -> None:
    for name, keys in PERSISTENT_ENV.items():
        env = env_mapping(services[name].get("environment"))
        mounts = _volumes(services[name])
        for key in keys:
            path = env[key]
            holders = [m for m in mounts if path.startswith(m["target"].rstrip("/") + "/")]
            assert holders, f"{name}: {key}={path} is on no volume (tmpfs would lose it)"
            volume = max(holders, key=lambda m: len(m["target"]))
            assert volume["type"] == "volume" and not volume["read_only"]
            assert volume["source"] in (raw_compose.get("volumes") or {}), volume
            tmpfs = _tmpfs_targets(services[name])
            assert not any(path.startswith(t.rstrip("/") + "/") for t in tmpfs)


def test_dev_key_generator_lays_out_a_rotation_in_place(tmp_path: Path) -> None:
    keys = tmp_path / "keys"

    def run() -> None:
        subprocess.run(
            ["bash", str(DEPLOY / "gen-dev-keys.sh"), str(keys)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    run()
    folders = {name: (keys / name).stat().st_ino for name in SERVICES}
    source = keys / "_source"
    from anxin_shared.keys import _write_keypair

    _write_keypair(source / "profile.v2.key.pem", source / "profile.v2.pub.pem")
    run()  # overlap: both keys of profile, its new public key everywhere
    assert sorted(p.name for p in (keys / "profile").glob("*.key.pem")) == [
        "profile.key.pem",
        "profile.v2.key.pem",
    ]
    for name in SERVICES:
        assert (keys / name / "profile.v2.pub.pem").is_file()
        assert not (keys / name / "profile.v2.key.pem").exists() or name == "profile"
    (source / "profile.key.pem").unlink()
    (source / "profile.pub.pem").unlink()
    run()  # retired: pruned everywhere, not generated again
    assert [p.name for p in (keys / "profile").glob("*.key.pem")] == ["profile.v2.key.pem"]
    for name in SERVICES:
        assert not (keys / name / "profile.pub.pem").exists()
        # The folders compose bind-mounts are updated in place, never replaced.
        assert (keys / name).stat().st_ino == folders[name]
