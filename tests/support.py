"""Starting the real suite for tests: five uvicorn processes, on SQLite and on PostgreSQL.

The PostgreSQL run happens when `ANXIN_TEST_POSTGRES_URL` names a server
(`.ci/run` starts one); each run gets five fresh databases, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from anxin_cli.suite import Suite
from anxin_shared.settings import SERVICES

REPO = Path(__file__).resolve().parent.parent
CALL_SESSION_HEADER = "X-Anxin-Call-Session"
POSTGRES_URL = os.environ.get("ANXIN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on right now."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class PostgresDatabases:
    """Fresh databases, one per service, on the test server."""

    urls: dict[str, str]

    @classmethod
    def create(cls, base_url: str) -> PostgresDatabases:
        import psycopg

        suffix = uuid.uuid4().hex[:8]
        urls = {}
        with psycopg.connect(_admin_url(base_url), autocommit=True) as connection:
            for service in SERVICES:
                name = f"anxin_test_{service}_{suffix}"
                connection.execute(f'CREATE DATABASE "{name}"')
                urls[service] = base_url.rsplit("/", 1)[0] + f"/{name}"
        return cls(urls)

    def drop(self, base_url: str) -> None:
        import psycopg

        with psycopg.connect(_admin_url(base_url), autocommit=True) as connection:
            for url in self.urls.values():
                name = url.rsplit("/", 1)[1]
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class RunningSuite:
    """A started suite and what tests need to talk to it."""

    suite: Suite
    backend: str
    policies_dir: Path
    client: httpx.Client
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def gateway(self) -> str:
        """The gateway's base URL."""
        return self.suite.url("gateway")

    def token(self, subject: str) -> str:
        """A dev token for a seeded subject, from the gateway's dev issuer."""
        response = self.client.post(f"{self.gateway}/dev/token", json={"subject": subject})
        response.raise_for_status()
        return str(response.json()["access_token"])

    def call(
        self,
        method: str,
        path: str,
        subject: str | None = None,
        session: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call through the gateway as `subject` (a cached dev token), in call session
        `session` when given, waiting out the per-client rate limit if it bites."""
        headers = dict(kwargs.pop("headers", None) or {})
        if subject:
            if subject not in self._tokens:
                self._tokens[subject] = self.token(subject)
            headers["authorization"] = f"Bearer {self._tokens[subject]}"
        if session is not None:
            headers[CALL_SESSION_HEADER] = session
        while True:
            response = self.client.request(
                method, f"{self.gateway}{path}", headers=headers, **kwargs
            )
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("retry-after", "1")))

    def get(self, path: str, subject: str | None = None, **kwargs: object) -> httpx.Response:
        """GET through the gateway, as `subject` when given."""
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if subject:
            headers["authorization"] = f"Bearer {self.token(subject)}"
        return self.client.get(f"{self.gateway}{path}", headers=headers, **kwargs)  # type: ignore[arg-type]


def outreach_quiet_hours() -> dict[str, str]:
    """Outreach quiet hours (UTC) 8 to 10 hours from now: campaigns sent while the tests run
    fall outside them, and a test can schedule one inside them (tests/e2e/test_outreach.py)."""
    start = datetime.now(UTC) + timedelta(hours=8)
    window = f"{start:%H:%M}-{start + timedelta(hours=2):%H:%M}"
    return {"ANXIN_PROFILE_OUTREACH_TIMEZONE": "UTC", "ANXIN_PROFILE_OUTREACH_QUIET_HOURS": window}


def start_suite(tmp: Path, backend: str) -> tuple[Suite, PostgresDatabases | None, Path]:
    """Copy the policies, pick ports, start the five processes and wait until ready."""
    policies = tmp / "policies"
    shutil.copytree(REPO / "policies", policies)
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    extra: dict[str, str] = {"ANXIN_POLICY_RELOAD_SECONDS": "0.5", **outreach_quiet_hours()}
    databases = None
    if backend == "postgres":
        assert POSTGRES_URL
        databases = PostgresDatabases.create(POSTGRES_URL)
        for service, url in databases.urls.items():
            extra[f"ANXIN_{service.upper()}_DATABASE_URL"] = url
    suite = Suite(var_dir=tmp / "var", policies_dir=policies, ports=ports, extra_env=extra)
    suite.start()
    try:
        status = suite.wait_ready(timeout=90)
    except RuntimeError:
        suite.stop()
        raise
    if not all(status.values()):
        suite.stop()
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (tmp / "var" / "logs").glob("*.log")
        )
        raise RuntimeError(f"suite not ready: {status}\n{logs}")
    return suite, databases, policies
