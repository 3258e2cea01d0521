"""Gateway benchmark (issue 9): the gateway with every check on, against its ceiling, same run.

Three targets, measured one after the other on the same machine, each served
by one process (the gateway and profile run as `anxin up` runs them: one
uvicorn process each, uvloop, h11 for the gateway, no access log):

* (a) the ceiling: a bare aiohttp pass-through proxy in front of a trivial
  aiohttp backend that answers a fixed body as large as profile's answer;
* (b) profile directly: `GET /api/v1/customers/C000002` with an internal
  token minted with the gateway's key and the claims the gateway would put in
  it (agent.li, life, L2, the verified call session and customer);
* (c) the gateway with every check on: the agent's bearer token, the rate
  limit, the call session (resolved by identity, then held on a lease that
  identity's change feed keeps exact: identity still answers the feed ten times
  a second), the policy decision, the internal token, the proxy to profile (which decides again and
  masks), and the gateway's and profile's audit events committed before the
  response leaves (then relayed to the audit service).

Closed-loop load comes from wrk (Debian package `wrk`) at concurrency 1, 10,
50 and 200 (at most 2 threads). The latency target ("at 200 requests/s the
gateway adds at most 1.5 ms p50 and 5 ms p99 over profile") is measured by an
open-loop generator here (asyncio + aiohttp) sending at a fixed rate and
timing each request from its scheduled start, so a stall is not hidden; (b) and
(c) alternate in rounds (3 x 10 s each by default), pooled per target. The
fixed-rate direct calls carry a fresh internal token each, as the gateway
sends them; wrk's direct calls reuse one token (profile's verification cache
then makes (b) a little faster than it is behind the gateway). The fixed-rate
generator keeps at most 32 requests in flight.

Stalls: a connection that got no answer in a whole wrk run counts as an error,
and before each point the benchmark waits (up to 40 s) until the target answers
again, so a service wedged by one point is not charged to the next.

The gateway's per-client rate limit (50/s, burst 200) would refuse a load
generator with one token, so the benchmark raises it through the gateway's
own settings (`ANXIN_GATEWAY_RATE_LIMIT_PER_SECOND`/`_BURST`); the limiter
still runs on every request. Nothing else is changed.

Run: `.venv/bin/python benchmarks/gateway.py` (about 5 minutes; `--quick` for
a smoke run). Prints a table and the targets, writes `var/proof/gateway.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from anxin_cli.suite import Suite
from anxin_profile.demo_data import DemoCustomer, generate_customers
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal
from anxin_shared.settings import SERVICES
from anxin_shared.tokens import MAX_INTERNAL_LIFETIME, service_signer

REPO = Path(__file__).resolve().parent.parent
PROOF = REPO / "var" / "proof" / "gateway.json"
CONCURRENCY = (1, 10, 50, 200)
FIXED_RATE = 200.0
CUSTOMER_ID = "C000002"
AGENT = "agent.li"
CALL_SESSION_HEADER = "X-Anxin-Call-Session"
THROUGHPUT_TARGET = 0.5
P50_TARGET_MS = 1.5
P99_TARGET_MS = 5.0
BENCH_RATE_LIMIT = "1000000"
# The fixed-rate generator keeps at most this many requests in flight (below the 40 worker
# threads a backend has: see the note on stalls in the docstring); latency still counts
# from each request's scheduled start, so waiting for a connection is measured, not hidden.
MAX_IN_FLIGHT = 32
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "ANXIN-WRK {\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d,"
    .. " \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, \\"p50_us\\": %d,"
    .. " \\"p99_us\\": %d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0)))
end
"""
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_loop(main: Callable[[], Any]) -> Any:
    """Run a coroutine function on uvloop when installed (as uvicorn does), else asyncio."""
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


# --- (a) the ceiling: a trivial backend and a bare pass-through proxy --------------------


def serve_backend(port: int, size: int) -> None:
    """A backend that answers every GET with the same JSON body of `size` bytes."""
    body = json.dumps({"pad": "x" * max(0, size - 11)}).encode()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    run_loop(lambda: _serve(app, port))


def serve_proxy(port: int, upstream: str) -> None:
    """A bare pass-through proxy: same method, path, headers and body, one pooled client."""

    async def main() -> None:
        session = ClientSession(
            connector=TCPConnector(limit=200),
            timeout=ClientTimeout(total=30),
            auto_decompress=False,
        )

        async def proxy(request: web.Request) -> web.Response:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            async with session.request(
                request.method,
                upstream + request.raw_path,
                headers=headers,
                data=await request.read() or None,
            ) as reply:
                body = await reply.read()
                returned = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP}
                return web.Response(body=body, status=reply.status, headers=returned)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy)
        await _serve(app, port)

    run_loop(main)


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def wait_answering(url: str, timeout: float = 20.0) -> None:
    """Poll `url` until it answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not start")
        time.sleep(0.1)


@contextlib.contextmanager
def ceiling(size: int) -> Iterator[str]:
    """Start the trivial backend and the bare proxy; yield the proxy's base URL."""
    backend_port, proxy_port = free_ports(2)
    me = [sys.executable, str(Path(__file__).resolve())]
    processes = [
        subprocess.Popen([*me, "--serve-backend", str(backend_port), "--size", str(size)]),  # noqa: S603
        subprocess.Popen(  # noqa: S603
            [
                *me,
                "--serve-proxy",
                str(proxy_port),
                "--upstream",
                f"http://127.0.0.1:{backend_port}",
            ]
        ),
    ]
    try:
        for port in (backend_port, proxy_port):
            wait_answering(f"http://127.0.0.1:{port}/ping")
        yield f"http://127.0.0.1:{proxy_port}"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=10)


# --- the suite: five services, a verified call session -----------------------------------


@dataclass
class Setup:
    """What the load needs: URLs, the agent's token, the call session and a token factory."""

    gateway_path: str
    profile_url: str
    agent_token: str
    call_session: str
    internal_token: Callable[[], str]
    body_size: int


def start_suite(tmp: Path) -> Suite:
    """The five services on fresh SQLite databases, rate limit raised for the load generator."""
    policies = tmp / "policies"
    shutil.copytree(REPO / "policies", policies)
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    extra = {
        "ANXIN_GATEWAY_RATE_LIMIT_PER_SECOND": BENCH_RATE_LIMIT,
        "ANXIN_GATEWAY_RATE_LIMIT_BURST": BENCH_RATE_LIMIT,
    }
    suite = Suite(var_dir=tmp / "var", policies_dir=policies, ports=ports, extra_env=extra)
    suite.start()
    try:
        status = suite.wait_ready(timeout=120)
    except RuntimeError:
        suite.stop()
        raise
    if not all(status.values()):
        suite.stop()
        raise RuntimeError(f"suite not ready: {status}; logs in {tmp / 'var' / 'logs'}")
    return suite


def demo_customer() -> DemoCustomer:
    """The demo customer the agent reads."""
    return next(c for c in generate_customers() if c.customer_id == CUSTOMER_ID)


def verified_call(client: httpx.Client, gateway: str, token: str, customer: DemoCustomer) -> str:
    """The agent's call session, verified to L2 (registered number, two knowledge answers)."""
    auth = {"authorization": f"Bearer {token}"}
    opened = client.post(
        f"{gateway}/api/v1/calls",
        headers=auth,
        json={"ani": customer.mobile, "channel": "voice", "attestation": "A"},
    )
    opened.raise_for_status()
    session_id = str(opened.json()["id"])
    for question, answer in (
        ("id_last4", customer.id_number[-4:]),
        ("birth_date", customer.birth_date.strftime("%Y年%m月%d日")),
    ):
        reply = client.post(
            f"{gateway}/api/v1/calls/{session_id}/knowledge-answers",
            headers=auth,
            json={"question_id": question, "answer": answer},
        )
        reply.raise_for_status()
    if reply.json()["session"]["assurance_level"] != "L2":
        raise RuntimeError(f"the call session did not reach L2: {reply.text}")
    return session_id


def prepare(suite: Suite) -> Setup:
    """Token, verified call session, one checked read through the gateway and one direct."""
    gateway, path = suite.url("gateway"), f"/api/v1/customers/{CUSTOMER_ID}"
    with httpx.Client(timeout=10) as client:
        reply = client.post(f"{gateway}/dev/token", json={"subject": AGENT})
        reply.raise_for_status()
        token = str(reply.json()["access_token"])
        session_id = verified_call(client, gateway, token, demo_customer())
        through = client.get(
            gateway + path,
            headers={"authorization": f"Bearer {token}", CALL_SESSION_HEADER: session_id},
        )
        if through.status_code != 200 or through.json()["field_views"].get("mobile") != "masked":
            raise RuntimeError(f"the gateway read failed: {through.status_code} {through.text}")
        engine = PolicyEngine(suite.policies_dir)
        engine.load()
        subsidiary = engine.home_subsidiary(AGENT) or "life"
        principal = Principal(
            subject=AGENT,
            kind="user",
            subsidiary=subsidiary,
            roles=tuple(engine.roles_for(AGENT, subsidiary)),
            assurance_level="L2",
            call_session=session_id,
            verified_customer=CUSTOMER_ID,
        )
        signer = service_signer("gateway", suite.var_dir / "keys")

        def internal_token() -> str:
            claims = replace_ids(principal).internal_claims()
            return signer.mint(AGENT, "anxin-profile", MAX_INTERNAL_LIFETIME, **claims)

        direct = client.get(
            suite.url("profile") + path, headers={"authorization": f"Bearer {internal_token()}"}
        )
        if (
            direct.status_code != 200
            or direct.json()["field_views"] != through.json()["field_views"]
        ):
            raise RuntimeError(f"the direct read differs: {direct.status_code} {direct.text}")
    return Setup(
        gateway_path=gateway + path,
        profile_url=suite.url("profile") + path,
        agent_token=token,
        call_session=session_id,
        internal_token=internal_token,
        body_size=len(through.content),
    )


def replace_ids(principal: Principal) -> Principal:
    """The principal with a fresh decision and request id, as each gateway call has."""
    return replace(principal, decision_id=uuid.uuid4().hex, request_id=uuid.uuid4().hex)


# --- load: wrk (closed loop) and a fixed-rate open-loop generator ------------------------


@dataclass
class Result:
    """One measured point."""

    target: str
    mode: str
    load: float
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> dict[str, Any]:
        """The JSON row of the proof file."""
        key = "concurrency" if self.mode == "wrk" else "rate"
        return {
            "target": self.target,
            "mode": self.mode,
            key: self.load,
            "requests": self.requests,
            "requests_per_second": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "errors": self.errors,
        }


def wrk_script(folder: Path, headers: dict[str, str]) -> Path:
    """A Lua script that sets the headers and prints the summary as JSON."""
    lines = [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script = folder / f"wrk-{uuid.uuid4().hex[:8]}.lua"
    script.write_text("\n".join(lines) + "\n" + WRK_DONE)
    return script


def run_wrk(
    url: str, headers: dict[str, str], connections: int, seconds: float, folder: Path
) -> dict[str, Any]:
    """One wrk run; the parsed summary (latencies in µs)."""
    script = wrk_script(folder, headers)
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next((x for x in output.splitlines() if x.startswith("ANXIN-WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    summary: dict[str, Any] = json.loads(line.removeprefix("ANXIN-WRK "))
    return summary


def settle(url: str, headers: dict[str, str], limit: float = 40.0, streak: int = 5) -> float:
    """Wait until `url` answers `streak` requests in a row, each within a second (a point that
    wedged or backlogged a service must not be charged to the next); the seconds waited."""
    started = time.monotonic()
    answered = 0
    with httpx.Client(timeout=1.0) as client:
        while answered < streak and time.monotonic() - started < limit:
            try:
                ok = client.get(url, headers=headers).status_code == 200
            except httpx.HTTPError:
                ok = False
            answered = answered + 1 if ok else 0
            if not ok:
                time.sleep(0.5)
    return time.monotonic() - started


def measure_wrk(
    target: str,
    url: str,
    headers: Callable[[], dict[str, str]],
    connections: int,
    args: argparse.Namespace,
    folder: Path,
) -> Result:
    """Settle, warm up, then measure one point with wrk."""
    waited = settle(url, headers())
    if waited > 2:
        print(f"  ({target}: waited {waited:.0f} s for the service to answer again)", flush=True)
    if args.warmup > 0:
        run_wrk(url, headers(), connections, args.warmup, folder)
    summary = run_wrk(url, headers(), connections, args.duration, folder)
    errors = sum(summary[k] for k in ("connect", "read", "write", "status", "timeout"))
    # wrk reports no request still waiting at the end: a connection that never got a single
    # answer in the whole run is a stalled request, counted as an error.
    errors += max(0, connections - int(summary["requests"]))
    return Result(
        target=target,
        mode="wrk",
        load=connections,
        requests=int(summary["requests"]),
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        errors=int(errors),
    )


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `samples`, or NaN when empty."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_loop(
    url: str, headers: list[dict[str, str]], rate: float
) -> tuple[list[float], int, float]:
    """Send one request per header set at `rate`/s; latencies (s) from each scheduled start."""
    latencies: list[float] = []
    errors = 0
    clock = time.perf_counter
    connector = TCPConnector(limit=MAX_IN_FLIGHT)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=10)) as session:

        async def one(request_headers: dict[str, str], due: float) -> None:
            nonlocal errors
            try:
                async with session.get(url, headers=request_headers) as reply:
                    await reply.read()
                    ok = reply.status == 200
            except Exception:
                ok = False
            if ok:
                latencies.append(clock() - due)
            else:
                errors += 1

        tasks = []
        start = clock() + 0.05
        for index, request_headers in enumerate(headers):
            due = start + index / rate
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request_headers, due)))
        await asyncio.gather(*tasks)
        elapsed = clock() - start
    return latencies, errors, elapsed


@dataclass
class Sample:
    """The latencies (s) and errors of fixed-rate runs against one target, pooled."""

    latencies: list[float]
    errors: int = 0
    seconds: float = 0.0


def measure_fixed_rate(
    url: str, headers: Callable[[], dict[str, str]], seconds: float, warmup: float
) -> Sample:
    """Warm up, then send at `FIXED_RATE` for `seconds` (open loop)."""
    warm = [headers() for _ in range(int(FIXED_RATE * warmup))]
    run_loop(lambda: open_loop(url, warm, FIXED_RATE))
    batch = [headers() for _ in range(int(FIXED_RATE * seconds))]
    latencies, errors, elapsed = run_loop(lambda: open_loop(url, batch, FIXED_RATE))
    return Sample(latencies, errors, elapsed)


def fixed_rate_result(target: str, sample: Sample) -> Result:
    """One target's fixed-rate point from its pooled rounds."""
    latencies = sample.latencies
    return Result(
        target=target,
        mode="fixed-rate",
        load=FIXED_RATE,
        requests=len(latencies),
        seconds=sample.seconds,
        p50_ms=statistics.median(latencies) * 1000 if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) * 1000,
        errors=sample.errors,
    )


# --- report ------------------------------------------------------------------------------

LABELS = {
    "a": "(a) bare aiohttp proxy -> trivial backend (ceiling)",
    "b": "(b) profile directly (internal token)",
    "c": "(c) gateway, every check on",
}


def table(results: list[Result]) -> str:
    """Requests/s, p50, p99 and errors of every point."""
    lines = [
        f"| {'target':<52} | {'load':>9} | {'req/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} "
        f"| {'errors':>6} |",
        f"|{'-' * 54}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|",
    ]
    for result in results:
        load = f"c={result.load:g}" if result.mode == "wrk" else f"{result.load:g}/s"
        lines.append(
            f"| {LABELS[result.target]:<52} | {load:>9} | {result.rps:>8,.0f} "
            f"| {result.p50_ms:>8.2f} | {result.p99_ms:>8.2f} | {result.errors:>6} |"
        )
    return "\n".join(lines)


def targets(results: list[Result]) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value, its limit and whether it is met."""
    by = {(r.target, r.mode, r.load): r for r in results}
    found: list[dict[str, Any]] = []
    for connections in sorted({r.load for r in results if r.mode == "wrk"}):
        ceiling_point, gateway_point = (
            by.get(("a", "wrk", connections)),
            by.get(("c", "wrk", connections)),
        )
        if ceiling_point and gateway_point and ceiling_point.rps:
            ratio = gateway_point.rps / ceiling_point.rps
            found.append(
                {
                    "target": f"(c) throughput / (a) throughput at concurrency {connections:g}",
                    "value": round(ratio, 3),
                    "limit": f">= {THROUGHPUT_TARGET}",
                    "met": ratio >= THROUGHPUT_TARGET,
                }
            )
    direct, gateway = (
        by.get(("b", "fixed-rate", FIXED_RATE)),
        by.get(("c", "fixed-rate", FIXED_RATE)),
    )
    if direct and gateway:
        for name, limit in (("p50", P50_TARGET_MS), ("p99", P99_TARGET_MS)):
            added = getattr(gateway, f"{name}_ms") - getattr(direct, f"{name}_ms")
            found.append(
                {
                    "target": f"(c) - (b) {name} at {FIXED_RATE:g} requests/s (ms)",
                    "value": round(added, 3),
                    "limit": f"<= {limit}",
                    "met": added <= limit and gateway.errors == 0,
                }
            )
    top = by.get(("c", "wrk", float(max(CONCURRENCY))))
    if top is not None:
        found.append(
            {
                "target": f"(c) errors at concurrency {max(CONCURRENCY)}",
                "value": top.errors,
                "limit": "= 0",
                "met": top.errors == 0,
            }
        )
    return found


def context(results: list[Result]) -> str:
    """Where the ratio target stands: (b) bounds (c), so (b)/(a) is printed beside (c)/(b)."""
    by = {(r.target, r.load): r for r in results if r.mode == "wrk"}
    lines = ["", "throughput ratios (context; (c) can never pass (b), which it wraps):"]
    for connections in sorted({r.load for r in results if r.mode == "wrk"}):
        ceiling_point, direct, gateway = (by.get((t, connections)) for t in "abc")
        if ceiling_point and direct and gateway and ceiling_point.rps and direct.rps:
            lines.append(
                f"  c={connections:g}: (b)/(a) {direct.rps / ceiling_point.rps:.3f},"
                f" (c)/(b) {gateway.rps / direct.rps:.3f},"
                f" (c)/(a) {gateway.rps / ceiling_point.rps:.3f}"
            )
    return "\n".join(lines)


def machine(load_at_start: float) -> dict[str, Any]:
    """Where the figures come from."""
    return {
        "load_average_1m_at_start": round(load_at_start, 2),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def ensure_wrk() -> bool:
    """True when wrk is on PATH (installed with apt-get when running as root)."""
    if shutil.which("wrk"):
        return True
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing; installing the Debian package (running as root) …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)  # noqa: S607
        return shutil.which("wrk") is not None
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk point")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per point")
    parser.add_argument(
        "--rate-duration",
        type=float,
        default=30.0,
        help="seconds of fixed-rate load per target, split into --rounds",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating fixed-rate rounds per target"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=list(CONCURRENCY), help="wrk -c values"
    )
    parser.add_argument("--output", type=Path, default=PROOF, help="the JSON proof file")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke run")
    parser.add_argument("--serve-backend", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-proxy", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_backend:
        serve_backend(args.serve_backend, args.size)
        return 0
    if args.serve_proxy:
        serve_proxy(args.serve_proxy, args.upstream)
        return 0
    if args.quick:
        args.duration, args.warmup, args.rate_duration = 2.0, 0.5, 3.0
    if not ensure_wrk():
        print(
            "wrk is not installed: install the Debian package (`sudo apt-get install -y wrk`)"
            " and run again."
        )
        return 2
    return benchmark(args)


def benchmark(args: argparse.Namespace) -> int:
    """Start everything, measure every point, print and write the figures."""
    load_at_start = os.getloadavg()[0]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}; one process per server; wrk ≤ 2 threads,"
        f" {args.duration:g} s per point after {args.warmup:g} s warm-up",
        flush=True,
    )
    print(
        f"gateway rate limit raised to {int(BENCH_RATE_LIMIT):,}/s (burst the same) through"
        " ANXIN_GATEWAY_RATE_LIMIT_PER_SECOND/_BURST so one load-generator token is not"
        " refused; the limiter and every other check stay on",
        flush=True,
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="anxin-gateway-bench-") as tmp:
        folder = Path(tmp)
        suite = start_suite(folder)
        try:
            setup = prepare(suite)
            print(
                f"suite ready; {AGENT} reads {CUSTOMER_ID} (masked, {setup.body_size} bytes)"
                f" in verified call session {setup.call_session[:8]}…",
                flush=True,
            )
            through = {
                "Authorization": f"Bearer {setup.agent_token}",
                CALL_SESSION_HEADER: setup.call_session,
            }

            def direct() -> dict[str, str]:
                return {"Authorization": f"Bearer {setup.internal_token()}"}

            points: dict[str, tuple[str, Callable[[], dict[str, str]]]] = {
                "b": (setup.profile_url, direct),
                "c": (setup.gateway_path, lambda: dict(through)),
            }
            # The fixed-rate runs first, on services that no closed-loop run has pushed yet,
            # in alternating rounds (b, c, b, c, ...) so that whatever else the machine is
            # doing weighs on both alike; each target's rounds are pooled.
            samples = {target: Sample([]) for target in points}
            for round_number in range(args.rounds):
                for target, (url, headers) in points.items():
                    settle(url, headers())
                    sample = measure_fixed_rate(
                        url, headers, args.rate_duration / args.rounds, args.warmup
                    )
                    pooled = samples[target]
                    pooled.latencies += sample.latencies
                    pooled.errors += sample.errors
                    pooled.seconds += sample.seconds
                    line = table([fixed_rate_result(target, sample)]).splitlines()[-1]
                    print(f"{line} round {round_number + 1}/{args.rounds}", flush=True)
            for target, sample in samples.items():
                results.append(fixed_rate_result(target, sample))
            # Then each target's sweep; profile directly (b) last: driven straight past its
            # worker threads it can stall (the gateway's bulkhead keeps (c) below that).
            with ceiling(setup.body_size) as proxy_url:
                points = {"a": (proxy_url + f"/api/v1/customers/{CUSTOMER_ID}", dict), **points}
                for target in ("a", "c", "b"):
                    url, headers = points[target]
                    for connections in args.concurrency:
                        result = measure_wrk(target, url, headers, connections, args, folder)
                        results.append(result)
                        print(table([result]).splitlines()[-1], flush=True)
        finally:
            suite.stop()
    found = targets(results)
    results.sort(key=lambda r: (r.mode != "fixed-rate", r.load, r.target))
    print("\n" + table(results))
    print(context(results))
    print("\n| target | measured | limit | |\n|---|---|---|---|")
    for item in found:
        print(
            f"| {item['target']} | {item['value']} | {item['limit']} |"
            f" {'PASS' if item['met'] else 'MISS'} |"
        )
    proof = {
        "name": "gateway",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(load_at_start),
        "settings": {
            "wrk_seconds": args.duration,
            "warmup_seconds": args.warmup,
            "fixed_rate": FIXED_RATE,
            "fixed_rate_seconds": args.rate_duration,
            "fixed_rate_rounds": args.rounds,
            "gateway_rate_limit": f"{BENCH_RATE_LIMIT}/s (raised for the load generator)",
            "processes": "one per server (aiohttp proxy, aiohttp backend, gateway, profile)",
        },
        "rows": [result.row() for result in results],
        "targets": found,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(proof, indent=2, ensure_ascii=False) + "\n")
    print(f"\nfigures written to {args.output}")
    return 0 if all(item["met"] for item in found) else 1


if __name__ == "__main__":
    sys.exit(main())
