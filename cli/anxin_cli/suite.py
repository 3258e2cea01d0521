"""Running the whole suite on one machine: keys, five uvicorn processes, readiness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from anxin_shared.keys import ensure_dev_keys
from anxin_shared.settings import SERVICE_PORTS

START_ORDER = ("audit", "consent", "profile", "identity", "gateway")


@dataclass(frozen=True)
class Replica:
    """One more process of a service, on its own port, sharing the suite's database and var dir.

    `env` is added on top of the service's environment (for example a different peer URL).
    """

    service: str
    port: int
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Suite:
    """The five services as child processes sharing one var dir and one policy folder."""

    var_dir: Path
    policies_dir: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))
    env: str = "dev"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Extra replicas by process name (e.g. "gateway-2"); started after the five services.
    replicas: dict[str, Replica] = field(default_factory=dict)

    def url(self, service: str) -> str:
        """Base URL of a service, or of a replica by its process name."""
        if service in self.replicas:
            return f"http://{self.host}:{self.replicas[service].port}"
        return f"http://{self.host}:{self.ports[service]}"

    def add_replica(
        self, name: str, service: str, port: int, env: dict[str, str] | None = None
    ) -> None:
        """Declare one more process of `service` (spawned by `start`, or by `spawn(name)`)."""
        if service not in self.ports or name in self.ports:
            raise ValueError(f"bad replica {name!r} of {service!r}")
        self.replicas[name] = Replica(service=service, port=port, env=dict(env or {}))

    def environment(self, service: str) -> dict[str, str]:
        """The environment one service process starts with."""
        environ = dict(os.environ)
        environ.update(
            {
                "ANXIN_ENV": self.env,
                "ANXIN_VAR_DIR": str(self.var_dir),
                "ANXIN_POLICIES_DIR": str(self.policies_dir),
                f"ANXIN_{service.upper()}_PORT": str(self.ports[service]),
            }
        )
        for peer in SERVICE_PORTS:
            environ[f"ANXIN_{peer.upper()}_URL"] = self.url(peer)
        environ.update(self.extra_env)
        return environ

    def prepare(self) -> None:
        """Generate dev keys (services, dev IdP, every catalogued client) once, up front."""
        if self.env != "dev":
            return
        catalogue = yaml.safe_load((self.policies_dir / "catalogue.yaml").read_text()) or {}
        ensure_dev_keys(self.var_dir / "keys", list((catalogue.get("clients") or {}).keys()))

    def start(self, log_dir: Path | None = None) -> None:
        """Start every service process (returns at once; see `wait_ready`)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        log_dir = log_dir or self.var_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for service in START_ORDER:
            self.spawn(service, log_dir)
        for service in START_ORDER:
            for name, replica in self.replicas.items():
                if replica.service == service:
                    self.spawn(name, log_dir)

    def spawn(self, service: str, log_dir: Path | None = None) -> None:
        """Start one service (or replica) process (again, after a crash, same command and env)."""
        log_dir = log_dir or self.var_dir / "logs"
        name = service
        environ = None
        port = self.ports.get(service, 0)
        if name in self.replicas:
            replica = self.replicas[name]
            service, port = replica.service, replica.port
            environ = self.environment(service)
            environ[f"ANXIN_{service.upper()}_PORT"] = str(port)
            environ.update(replica.env)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            f"anxin_{service}.main:app",
            "--host",
            self.host,
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]
        if service == "gateway":
            # httptools, but an absolute-form target reaches the app whole, to be
            # refused rather than silently reduced to its path (see server.py).
            command += ["--http", "anxin_gateway.server:GatewayHttpProtocol"]
        log = (log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603
            command,
            env=environ if environ is not None else self.environment(service),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, service: str) -> None:
        """SIGKILL one service (fault injection): no shutdown, no flush, no goodbye."""
        process = self.processes[service]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def restart(self, service: str, timeout: float = 30.0) -> None:
        """Re-spawn a killed service and wait until it answers `/readyz`."""
        self.spawn(service)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[service].poll() is not None:
                raise RuntimeError(f"{service} exited while restarting")
            try:
                if httpx.get(self.url(service) + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{service} not ready {timeout:.0f} s after a restart")

    def ready(self) -> dict[str, bool]:
        """Which services answer `/readyz` with 200."""
        status = {}
        for service in [*self.ports, *self.replicas]:
            try:
                status[service] = (
                    httpx.get(self.url(service) + "/readyz", timeout=1.0).status_code == 200
                )
            except httpx.HTTPError:
                status[service] = False
        return status

    def wait_ready(self, timeout: float = 60.0, on_tick: object = None) -> dict[str, bool]:
        """Poll until every service is ready or `timeout` passes; raise if a process died."""
        deadline = time.monotonic() + timeout
        status = self.ready()
        while not all(status.values()) and time.monotonic() < deadline:
            for service, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited with status {process.returncode}; "
                        f"see {self.var_dir / 'logs' / (service + '.log')}"
                    )
            if callable(on_tick):
                on_tick(status)
            time.sleep(0.3)
            status = self.ready()
        return status

    def stop(self) -> None:
        """Stop every process: SIGTERM, then SIGKILL after five seconds."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
