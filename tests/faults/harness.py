"""Fault injection under load: the real suite with fault proxies in every path.

The five services start with their peer URLs (identity, consent, profile,
audit) pointing at `FaultProxy`s, and, on PostgreSQL, their database URLs at a
proxy in front of the server. Several clients then call protected routes
through the gateway (each paced under the per-client rate limit) while the
harness walks through the faults: kill, hang, slow and reset of each proxied
target, SIGKILL of a service process, and a broken policy file (reloaded while
the old policy stays in force, and a service restarted with no loadable
policy). SQLite has no socket to proxy: there a write lock held on every
service's database stands in for a hung database, and a SIGKILL of the
service that owns it for a dead one.

Measured: every call's status and latency, and afterwards, with every fault
lifted, whether each acknowledged answer (2xx or 403) has its gateway audit
event exactly once, and each 2xx disclosure its service's event. A call is
"held" by a fault when it started and was answered while that fault held;
only held calls are judged against the fault (calls across a switch only
against policy). `FaultReport` holds the figures and writes them as JSON.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from anxin_cli.suite import Suite
from anxin_gateway.callsessions import LIVE_WINDOW
from anxin_profile.demo_data import DemoCustomer, generate_customers
from anxin_shared.settings import SERVICES
from tests.faults.proxy import ProxyGroup
from tests.support import POSTGRES_URL, REPO, PostgresDatabases, free_ports

PROXIED = ("identity", "consent", "profile", "audit")
HEADER = "X-Anxin-Call-Session"
CLOSED = frozenset({401, 403, 503})  # a refusal: authentication, policy, or fail closed
LEASE_NOISE = 0.2  # s: the feed read in flight when the fault began, and scheduling
HEALTHY = "none/pass"  # the phase before any fault
RECOVERY = "recovery/pass"  # a fault lifted, the suite catching up
NOT_FOUND = 404  # also a refusal for a probe policy denies (existence is not revealed)
SLACK_SECONDS = 0.1  # what the issue allows beyond the configured timeout
CUSTOMERS = generate_customers()
LIFE = [customer for customer in CUSTOMERS if customer.subsidiary == "life"]


@dataclass(frozen=True)
class Probe:
    """One kind of protected call, who makes it, and what it needs to succeed."""

    name: str
    subject: str
    path: str
    allowed: bool  # the answer with every dependency healthy: 2xx (True) or a refusal
    needs: frozenset[str]  # the faults that must make it fail closed
    session: bool = False  # send agent.li's verified call session
    discloses: str | None = None  # the service that records the disclosure of a 2xx answer


@dataclass(frozen=True)
class Phase:
    """One fault on one target, held for `seconds` while the load runs."""

    target: str
    mode: str
    seconds: float
    latency: float = 0.0


@dataclass
class Outcome:
    """One call's answer."""

    probe: Probe
    phase: str  # "target/mode" when one phase held for the whole call, else "transition"
    status: int
    seconds: float
    request_id: str | None
    scenario: str  # the fault in force, or the last one lifted, when the call started
    # How long the phase the call started in went on after its start (inf: past the answer).
    window: float = math.inf
    under_fault: bool = False  # started while a fault (or the healthy start) held
    since: float = math.inf  # how long the phase the call started in had been going on

    @property
    def held(self) -> bool:
        """Whether the scenario's fault (or the healthy start) held for the whole call."""
        return self.phase == self.scenario

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300


@dataclass
class FaultReport:
    """Every call's outcome and the audit check's figures."""

    backend: str
    timeout: float
    outcomes: list[Outcome] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    undisclosed: list[str] = field(default_factory=list)  # 2xx reads without the service's event
    notes: list[str] = field(default_factory=list)

    def wrongly_allowed(self, outcomes: list[Outcome]) -> list[Outcome]:
        """2xx answers a refusal was due for: denied by policy, or a dependency was down.

        A call on a leased call session needs no answer from identity: in the first
        `LIVE_WINDOW` of an identity fault the lease still holds (it is the gateway's
        design, see callsessions.py), so those calls are counted apart (`leased`)."""
        return [
            o
            for o in outcomes
            if o.ok and (not o.probe.allowed or _faulted(o.probe, o.phase)) and not _leased(o)
        ]

    def leased(self, outcomes: list[Outcome]) -> list[Outcome]:
        """2xx answers served on a call-session lease while identity had just failed."""
        return [o for o in outcomes if o.ok and o.probe.allowed and _leased(o)]

    def not_closed(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Answers that are neither the healthy answer nor a refusal (e.g. 500, 502, timeouts)."""
        return [o for o in outcomes if not _refused(o) and not (o.probe.allowed and o.ok)]

    def late(self, outcomes: list[Outcome], noise: float = 0.0) -> list[Outcome]:
        """Calls started under a fault that were still unanswered at the timeout plus
        100 ms (plus `noise` seconds, when given: what the machine adds to any call) while
        that fault still held. A call answered after the fault lifted counts too, when
        the fault held long enough for it to be late.

        Slow faults are left out: there each step (call-session resolve, forward, audit
        write) is bounded by the timeout, not the call as a whole, so a refusal can take
        up to a few timeouts; their latencies are reported, not judged."""
        limit = self.timeout + SLACK_SECONDS + noise
        return [
            o
            for o in outcomes
            if o.under_fault
            and not o.phase.endswith("/slow")
            and not o.ok
            and o.seconds > limit
            and o.window > limit
        ]

    def noise_floor(self) -> float:
        """The healthy start's p99 latency (s): what a call costs on this machine now."""
        healthy = sorted(o.seconds * 1000 for o in self.outcomes if o.phase == HEALTHY)
        return (_percentile(healthy, 99) or 0.0) / 1000

    def baseline_mismatches(self) -> list[Outcome]:
        """Healthy-phase answers that contradict a probe's expectation (the probes are sound)."""
        return [
            o
            for o in self.outcomes
            if o.phase == HEALTHY and (o.ok != o.probe.allowed or not (o.ok or _refused(o)))
        ]

    def rows(self) -> list[dict[str, Any]]:
        """One row per scenario: a fault with the calls it held and its recovery tail."""
        by_scenario: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            by_scenario.setdefault(outcome.scenario, []).append(outcome)
        lost, duplicated = set(self.lost), set(self.duplicated)
        rows = []
        for scenario, outcomes in by_scenario.items():
            target, _, mode = scenario.partition("/")
            held = [o for o in outcomes if o.held]
            refused = [o for o in held if _refused(o)]
            # Latency of the answers the fault made fail closed (none under slow, a refused
            # reload or the healthy start: there only refusals by policy, reported apart).
            by_fault = [o for o in refused if _faulted(o.probe, o.phase)]
            closed = sorted(o.seconds * 1000 for o in by_fault)
            denials = sorted(o.seconds * 1000 for o in refused if o not in by_fault)
            tail = sorted(o.seconds * 1000 for o in outcomes if not o.held and _refused(o))
            rows.append(
                {
                    "backend": self.backend,
                    "fault": "none" if scenario == HEALTHY else mode,
                    "target": "-" if scenario == HEALTHY else target,
                    "calls": len(outcomes),
                    "held": len(held),
                    "fail_closed": len(by_fault),
                    "wrongly_allowed": len(self.wrongly_allowed(outcomes)),
                    "leased": len(self.leased(outcomes)),
                    "not_closed": len(self.not_closed(outcomes)),
                    "lost": sum(1 for o in outcomes if o.request_id in lost),
                    "duplicated": sum(1 for o in outcomes if o.request_id in duplicated),
                    "late": len(self.late(outcomes)),
                    "fail_closed_p50_ms": _percentile(closed, 50),
                    "fail_closed_p99_ms": _percentile(closed, 99),
                    "fail_closed_max_ms": round(closed[-1], 1) if closed else None,
                    "fail_closed_limit_ms": round((self.timeout + SLACK_SECONDS) * 1000),
                    "denied_p99_ms": _percentile(denials, 99),
                    "recovery_refused_p99_ms": _percentile(tail, 99),
                }
            )
        return rows

    def totals(self) -> dict[str, Any]:
        """The run's headline figures."""
        return {
            "backend": self.backend,
            "timeout_ms": round(self.timeout * 1000),
            "calls": len(self.outcomes),
            "acknowledged": sum(1 for o in self.outcomes if _acknowledged(o)),
            "wrongly_allowed": len(self.wrongly_allowed(self.outcomes)),
            "leased": len(self.leased(self.outcomes)),
            "not_closed": len(self.not_closed(self.outcomes)),
            "late": len(self.late(self.outcomes)),
            "healthy_p99_ms": round(self.noise_floor() * 1000, 1),
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "undisclosed": len(self.undisclosed),
        }

    def text(self) -> str:
        """The printed report."""
        totals = self.totals()
        lines = [
            f"fault injection under load ({self.backend}, upstream timeout "
            f"{totals['timeout_ms']} ms): calls tried {totals['calls']}, wrongly allowed "
            f"{totals['wrongly_allowed']}, events lost {totals['lost']}, events duplicated "
            f"{totals['duplicated']} (acknowledged {totals['acknowledged']}); not closed "
            f"{totals['not_closed']}, later than timeout+100 ms {totals['late']} "
            f"(healthy p99 {totals['healthy_p99_ms']} ms); served on a call-session lease in "
            f"the first {LIVE_WINDOW:g} s of an identity fault {totals['leased']}",
            f"{'target':<10} {'fault':<14} {'calls':>6} {'held':>5} {'closed':>6} "
            f"{'allowed!':>8} {'lost':>5} {'dup':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'denied p99':>10} {'after p99':>9}",
        ]
        for row in self.rows():
            lines.append(
                f"{row['target']:<10} {row['fault']:<14} {row['calls']:>6} {row['held']:>5} "
                f"{row['fail_closed']:>6} {row['wrongly_allowed']:>8} {row['lost']:>5} "
                f"{row['duplicated']:>4} {_fmt(row['fail_closed_p50_ms']):>8} "
                f"{_fmt(row['fail_closed_p99_ms']):>8} {_fmt(row['fail_closed_max_ms']):>8} "
                f"{_fmt(row['denied_p99_ms']):>10} {_fmt(row['recovery_refused_p99_ms']):>9}"
            )
        lines.append(
            "held: calls started and answered under the fault; closed: of those, refused "
            "because of it (p50/p99/max); denied p99: held refusals by policy; after p99: "
            "refusals while the fault was being lifted"
        )
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _faulted(probe: Probe, phase: str) -> bool:
    target, _, mode = phase.partition("/")
    if mode in ("", "pass", "slow", "broken-reload"):
        return False
    if mode == "unloaded":  # the policy fault takes profile's decisions away
        return "profile" in probe.needs
    return target in probe.needs


def _leased(outcome: Outcome) -> bool:
    """Whether a lease on the call session may have served this call (identity faulted
    for less than the lease's liveness window when it started)."""
    target = outcome.phase.partition("/")[0]
    return (
        outcome.probe.session
        and target == "identity"
        and _faulted(outcome.probe, outcome.phase)
        and outcome.since < LIVE_WINDOW + LEASE_NOISE
    )


def _refused(outcome: Outcome) -> bool:
    return outcome.status in CLOSED or (outcome.status == NOT_FOUND and not outcome.probe.allowed)


def _acknowledged(outcome: Outcome) -> bool:
    return outcome.ok or outcome.status == 403


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def write_calls(report: FaultReport, path: Path) -> None:
    """Every call's outcome, for diagnosis (one JSON line per call)."""
    lost = set(report.lost)
    lines = [
        json.dumps(
            {
                "probe": o.probe.name,
                "phase": o.phase,
                "status": o.status,
                "ms": round(o.seconds * 1000, 1),
                "request_id": o.request_id,
                "scenario": o.scenario,
                "lost": o.request_id in lost,
            }
        )
        for o in report.outcomes
    ]
    path.write_text("\n".join(lines) + "\n")


def write_report(reports: list[FaultReport], path: Path) -> None:
    """Write the figures as `{"name": "faults", "generated_at", "rows", "totals"}`."""
    rows = [row for report in reports for row in report.rows()]
    per_backend = [report.totals() for report in reports]
    keys = (
        "calls",
        "acknowledged",
        "wrongly_allowed",
        "leased",
        "not_closed",
        "late",
        "lost",
        "duplicated",
    )
    totals: dict[str, Any] = {key: sum(t[key] for t in per_backend) for key in keys}
    totals["backends"] = per_backend
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "name": "faults",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "totals": totals,
        "notes": [note for report in reports for note in report.notes],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@dataclass
class FaultySuite:
    """The suite started behind fault proxies."""

    suite: Suite
    proxies: ProxyGroup
    backend: str
    policies_dir: Path
    timeout: float
    databases: PostgresDatabases | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        """The gateway's base URL (clients reach it directly, never through a proxy)."""
        return self.suite.url("gateway")

    def token(self, subject: str) -> str:
        """A dev token for a seeded subject (cached: tokens outlive a run)."""
        if subject not in self.tokens:
            response = self.client.post(f"{self.gateway}/dev/token", json={"subject": subject})
            response.raise_for_status()
            self.tokens[subject] = str(response.json()["access_token"])
        return self.tokens[subject]

    def call(
        self, method: str, path: str, subject: str, session: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One set-up call through the gateway, waiting out the rate limit if it bites."""
        headers = {"authorization": f"Bearer {self.token(subject)}"}
        if session:
            headers[HEADER] = session
        while True:
            response = self.client.request(
                method, f"{self.gateway}{path}", headers=headers, **kwargs
            )
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("retry-after", "1")))

    def stop(self) -> None:
        """Stop the services, the proxies, and drop the PostgreSQL databases."""
        self.client.close()
        self.suite.stop()
        self.proxies.close()
        if self.databases is not None and POSTGRES_URL:
            self.databases.drop(POSTGRES_URL)


def _through_proxy(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@contextmanager
def faulty_suite(tmp: Path, backend: str, timeout: float) -> Iterator[FaultySuite]:
    """Start the five services with fault proxies in front of peers (and PostgreSQL)."""
    policies = tmp / "policies"
    shutil.copytree(REPO / "policies", policies)
    ports = free_ports(len(SERVICES) + len(PROXIED) + 1)
    service_ports = dict(zip(SERVICES, ports, strict=False))
    proxy_ports = dict(zip((*PROXIED, "database"), ports[len(SERVICES) :], strict=True))
    proxies = ProxyGroup()
    extra = {"ANXIN_POLICY_RELOAD_SECONDS": "0.5"}
    for service in SERVICES:
        extra[f"ANXIN_{service.upper()}_UPSTREAM_TIMEOUT_SECONDS"] = str(timeout)
    for peer in PROXIED:
        proxies.add(peer, "127.0.0.1", service_ports[peer], proxy_ports[peer])
        extra[f"ANXIN_{peer.upper()}_URL"] = f"http://127.0.0.1:{proxy_ports[peer]}"
    databases = None
    if backend == "postgres":
        assert POSTGRES_URL, "ANXIN_TEST_POSTGRES_URL is not set"
        server = make_url(POSTGRES_URL)
        proxies.add(
            "database", server.host or "127.0.0.1", server.port or 5432, proxy_ports["database"]
        )
        databases = PostgresDatabases.create(POSTGRES_URL)
        for service, url in databases.urls.items():
            extra[f"ANXIN_{service.upper()}_DATABASE_URL"] = _through_proxy(
                url, proxy_ports["database"]
            )
    suite = Suite(var_dir=tmp / "var", policies_dir=policies, ports=service_ports, extra_env=extra)
    running = FaultySuite(suite, proxies, backend, policies, timeout, databases)
    try:
        suite.start()
        status = suite.wait_ready(timeout=90)
        if not all(status.values()):
            raise RuntimeError(f"suite not ready: {status}")
        yield running
    finally:
        running.stop()


# -- the load ------------------------------------------------------------------


@dataclass
class Fixtures:
    """What the probes refer to: a verified call session and a consented customer."""

    session: str
    read: DemoCustomer
    consented: DemoCustomer
    unconsented: DemoCustomer


def prepare(suite: FaultySuite) -> Fixtures:
    """Open agent.li's verified call (L2) and record a cross-sell consent, through the gateway."""
    read, consented, unconsented = LIFE[-1], LIFE[-3], LIFE[-4]
    opened = suite.call(
        "POST",
        "/api/v1/calls",
        "agent.li",
        json={"ani": read.mobile, "channel": "voice", "attestation": "A"},
    )
    assert opened.status_code == 201, opened.text
    session = str(opened.json()["id"])
    for question, answer in (
        ("id_last4", read.id_number[-4:]),
        ("birth_date", read.birth_date.strftime("%Y年%m月%d日")),
    ):
        reply = suite.call(
            "POST",
            f"/api/v1/calls/{session}/knowledge-answers",
            "agent.li",
            json={"question_id": question, "answer": answer},
        )
        assert reply.status_code == 200, reply.text
    for category in ("pi.identity.name", "pi.contact.phone", "pi.profile.segment"):
        recorded = suite.call(
            "POST",
            "/api/v1/consent/records",
            "life-claims-system",
            json={
                "customer_id": consented.customer_id,
                "notice_key": "life-to-bank-cross-sell",
                "notice_version": 1,
                "category": category,
                "recipient": "bank",
                "channel": "app",
                "evidence_ref": f"app-receipt:{uuid.uuid4().hex[:12]}",
            },
        )
        assert recorded.status_code == 201, recorded.text
    return Fixtures(session, read, consented, unconsented)


def probes(fixtures: Fixtures) -> list[Probe]:
    """The protected calls the load makes, each by its own client or subject."""
    db = "database"
    read = fixtures.read.customer_id
    shared = "/api/v1/shared/customers/{}?purpose=cross_sell"
    return [
        Probe(
            "verified-read",
            "agent.li",
            f"/api/v1/customers/{read}",
            True,
            frozenset({"identity", "profile", db}),
            session=True,
            discloses="profile",
        ),
        Probe(
            "foreign-session",
            "agent.wang",
            f"/api/v1/customers/{read}",
            False,
            frozenset({"identity", db}),
            session=True,
        ),
        Probe(
            "other-subsidiary",
            "agent.zhang",
            f"/api/v1/customers/{read}",
            False,
            frozenset({"profile", db}),
        ),
        Probe(
            "consented-share",
            "bank-crm-system",
            shared.format(fixtures.consented.customer_id),
            True,
            frozenset({"profile", "consent", db}),
            discloses="profile",
        ),
        Probe(
            "unconsented-share",
            "bank-crm-system",
            shared.format(fixtures.unconsented.customer_id),
            False,
            frozenset({"profile", "consent", db}),
        ),
        Probe(
            "consent-read",
            "legal.qian",
            f"/api/v1/consent/customers/{fixtures.consented.customer_id}/consents",
            True,
            frozenset({"consent", "profile", db}),
        ),
        Probe(
            "audit-read",
            "auditor.zheng",
            "/api/v1/audit/events?limit=5",
            True,
            frozenset({"audit", db}),
        ),
        Probe("policy-version", "secadmin.wu", "/api/v1/policy/version", True, frozenset({db})),
        # Refused by the gateway's own decision: the 403 is acknowledged, so is its event.
        Probe("gateway-denied", "contractor.sun", "/api/v1/audit/events", False, frozenset({db})),
    ]


class Load:
    """Worker threads, one per probe, each pacing its calls under the rate limit."""

    def __init__(self, suite: FaultySuite, fixtures: Fixtures, per_second: float = 8.0) -> None:
        self.suite = suite
        self.fixtures = fixtures
        self.interval = 1.0 / per_second
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.phase = HEALTHY
        self.scenario = HEALTHY
        self.switched: list[float] = [time.perf_counter()]  # by generation: when it began
        self.generation = 0
        self.outcomes: list[Outcome] = []
        self.probes = probes(fixtures)
        for probe in self.probes:
            suite.token(probe.subject)
        self.threads = [
            threading.Thread(target=self._work, args=(probe,), daemon=True) for probe in self.probes
        ]

    def set_phase(self, phase: str, scenario: str | None = None) -> None:
        """Label calls started from now on with `phase` (and `scenario`: by default the
        phase itself, or for a recovery the fault just lifted)."""
        with self.lock:
            if scenario is not None or phase != RECOVERY:
                self.scenario = scenario or phase
            self.phase = phase
            self.generation += 1
            self.switched.append(time.perf_counter())

    def _label(self) -> tuple[str, int, str]:
        with self.lock:
            return self.phase, self.generation, self.scenario

    def _work(self, probe: Probe) -> None:
        headers = {"authorization": f"Bearer {self.suite.token(probe.subject)}"}
        if probe.session:
            headers[HEADER] = self.fixtures.session
        url = self.suite.gateway + probe.path
        # The client waits far longer than any server-side timeout: a hang shows as latency.
        with httpx.Client(timeout=self.suite.timeout * 4 + 5) as client:
            while not self.stop_event.is_set():
                phase, generation, scenario = self._label()
                started = time.perf_counter()
                try:
                    response = client.get(url, headers=headers)
                    status, request_id = response.status_code, response.headers.get("x-request-id")
                except httpx.HTTPError:
                    status, request_id = 0, None
                elapsed = time.perf_counter() - started
                _, now, _ = self._label()
                if status != 429:
                    label = phase if now == generation else "transition"
                    with self.lock:
                        window = (
                            math.inf if now == generation else self.switched[generation + 1]
                        ) - started
                        self.outcomes.append(
                            Outcome(
                                probe,
                                label,
                                status,
                                elapsed,
                                request_id,
                                scenario,
                                window,
                                under_fault=phase != RECOVERY,
                                since=started - self.switched[generation],
                            )
                        )
                self.stop_event.wait(max(0.0, self.interval - elapsed))

    def start(self) -> None:
        """Start every worker."""
        for thread in self.threads:
            thread.start()

    def stop(self) -> list[Outcome]:
        """Stop the workers and return every outcome."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)
        return list(self.outcomes)


# -- the faults ----------------------------------------------------------------

BROKEN_POLICY = "p, agent, *, customer.profile, read, L0\nthis is not a policy line,,,\n"


def run_phase(suite: FaultySuite, load: Load, phase: Phase) -> None:
    """Hold one fault for its duration, then lift it and let the suite settle."""
    label = f"{phase.target}/{phase.mode}"
    if phase.target == "policy":
        _policy_fault(suite, load, phase, label)
    elif phase.mode == "lock":
        with _sqlite_write_locks(suite.suite.var_dir):
            load.set_phase(label)
            time.sleep(phase.seconds + suite.timeout)
            load.set_phase(RECOVERY)
    elif phase.mode == "sigkill":
        load.set_phase(label)
        suite.suite.kill(phase.target)
        time.sleep(phase.seconds)
        load.set_phase(RECOVERY)
        suite.suite.restart(phase.target)
    else:
        suite.proxies.set_mode(phase.target, phase.mode, phase.latency)
        load.set_phase(label)
        # A hung call takes the whole timeout: hold a hang long enough for calls to end in it.
        time.sleep(phase.seconds + (suite.timeout if phase.mode == "hang" else 0.0))
        load.set_phase(RECOVERY)
        suite.proxies.set_mode(phase.target, "pass")
    time.sleep(0.3)


@contextmanager
def _sqlite_write_locks(var_dir: Path) -> Iterator[None]:
    """Hold every service's SQLite write lock, as a stuck writer would: writes wait
    (up to the 30 s busy timeout), reads go on (WAL)."""
    connections = []
    try:
        for service in SERVICES:
            connection = sqlite3.connect(
                var_dir / f"{service}.db", timeout=10, isolation_level=None
            )
            connections.append(connection)
            connection.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        for connection in connections:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()


def _policy_fault(suite: FaultySuite, load: Load, phase: Phase, label: str) -> None:
    """`broken-reload`: a broken file is refused, the last good policy stays in force.
    `unloaded`: profile restarts while the file is broken, so it has no policy at all
    (every decision it makes fails closed) until the file is repaired."""
    path = suite.policies_dir / "policy.csv"
    good = path.read_text()
    path.write_text(good + BROKEN_POLICY)
    try:
        if phase.mode == "unloaded":
            load.set_phase(RECOVERY, scenario=label)  # the restart counts, but is not held
            suite.suite.kill("profile")
            suite.suite.spawn("profile")
            _wait(lambda: _answers(suite.suite.url("profile") + "/healthz"), 30, "profile alive")
            load.set_phase(label)
        else:
            time.sleep(1.0)  # the watchers (0.5 s) refuse the file before the phase counts
            load.set_phase(label)
        time.sleep(phase.seconds)
        load.set_phase(RECOVERY)
    finally:
        path.write_text(good)
    ready = suite.suite.url("profile") + "/readyz"
    _wait(lambda: _answers(ready, 200), 30, "profile ready after the policy was repaired")


def _answers(url: str, status: int | None = None) -> bool:
    try:
        response = httpx.get(url, timeout=1.0)
    except httpx.HTTPError:
        return False
    return status is None or response.status_code == status


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def phases(backend: str, seconds: float, full: bool) -> list[Phase]:
    """The fault walk: every mode on every proxied target, policy faults, process kills."""
    targets = [*PROXIED, "database"] if backend == "postgres" else list(PROXIED)
    if not full:
        targets = [t for t in targets if t != "profile"]
    walk = []
    for target in targets:
        latency = 0.05 if target == "database" else 0.3
        for mode in ("kill", "hang", "slow", "reset"):
            walk.append(Phase(target, mode, seconds, latency if mode == "slow" else 0.0))
    if backend == "sqlite":  # no socket to fault: a held write lock is the database hanging
        walk.append(Phase("database", "lock", seconds))
    walk += [Phase("policy", "broken-reload", seconds), Phase("policy", "unloaded", seconds)]
    walk.append(Phase("profile", "sigkill", seconds))
    if full:
        walk.append(Phase("audit", "sigkill", seconds))
    return walk


# -- the audit check -----------------------------------------------------------


def gateway_events(suite: FaultySuite, producer: str) -> list[dict[str, Any]]:
    """Every audit event of one producer, paged through the gateway as the auditor
    (a page that fails closed while the suite is still recovering is asked again)."""
    items: list[dict[str, Any]] = []
    after = 0
    deadline = time.monotonic() + 60
    while True:
        response = suite.call(
            "GET",
            "/api/v1/audit/events",
            "auditor.zheng",
            params={"producer": producer, "after_seq": after, "limit": 200},
        )
        if response.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        assert response.status_code == 200, response.text
        page = response.json()
        items += [item["event"] for item in page["items"]]
        if page["next_after_seq"] is None:
            return items
        after = page["next_after_seq"]


def check_audit(suite: FaultySuite, report: FaultReport, wait_seconds: float) -> None:
    """Every acknowledged answer's gateway event exactly once; a disclosure has its
    service's event too."""
    acknowledged = {o.request_id for o in report.outcomes if _acknowledged(o) and o.request_id}
    disclosed = {
        o.request_id for o in report.outcomes if o.ok and o.request_id and o.probe.discloses
    }
    deadline = time.monotonic() + wait_seconds
    while True:  # outboxes back off while audit is unreachable, then catch up
        counts = Counter(event["request_id"] for event in gateway_events(suite, "gateway"))
        profile = {event["request_id"] for event in gateway_events(suite, "profile")}
        missing = acknowledged - set(counts)
        if (not missing and disclosed <= profile) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    seen = {o.request_id for o in report.outcomes if o.request_id}
    report.lost = sorted(missing)
    report.duplicated = sorted(rid for rid in seen if counts.get(rid, 0) > 1)
    report.undisclosed = sorted(disclosed - profile)


def run_faults(
    tmp: Path, backend: str, *, timeout: float, seconds: float, full: bool, audit_wait: float
) -> FaultReport:
    """Start the suite behind proxies, load it, walk the faults, check the audit trail."""
    report = FaultReport(backend, timeout)
    report.notes.append(
        f"{backend}: fail_closed_limit_ms is the services' upstream timeout + 100 ms; slow "
        "faults bound each step, not the whole call, so their refusals are reported "
        "(denied_p99_ms), not judged"
    )
    if backend == "sqlite":
        report.notes.append(
            "sqlite: no database socket to fault; a held write lock on every service's "
            "database stands in for a hung database, SIGKILL of profile (and audit in the "
            "full run) for a dead one"
        )
    with faulty_suite(tmp, backend, timeout) as suite:
        fixtures = prepare(suite)
        load = Load(suite, fixtures)
        load.start()
        try:
            time.sleep(seconds)  # a healthy baseline first
            for phase in phases(backend, seconds, full):
                run_phase(suite, load, phase)
            time.sleep(seconds)
        finally:
            report.outcomes = load.stop()
        check_audit(suite, report, audit_wait)
    return report
