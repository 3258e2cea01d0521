"""The gateway's own policy API: version, explain, diff, replica status and checks.

These routes are answered by the gateway itself, after the same authentication,
policy decision and audit as any other route (see main.py). Nothing here
changes the policy in force:

* `POST /api/v1/policy/explain` decides one request on the live policy and
  explains it (`anxin_shared.policy_explain`, the CLI's explainer), on an
  engine of its own, so an explanation never counts as shadow-mode traffic.
* `POST /api/v1/policy/diff` builds a candidate from the live folder with its
  `policy.csv` replaced by the text sent; a candidate that does not load or
  fails lint is a 422 problem. Otherwise every decision and field view that
  flips is listed (`anxin_shared.policy_diff`). Candidates are built in a
  private temporary folder that is deleted afterwards, never in the live one.
* `GET /api/v1/policy/status` lists the policy version of every replica this
  gateway knows of: itself, each backend's `/readyz` probed now (through the
  service URL, so one replica per URL), and every replica whose response
  headers it has seen on proxied traffic, with when it was last seen. A
  gateway replica answers for itself only: with several, ask each.
* `GET /api/v1/policy/checks` runs lint and the decision cases on the policy
  folder on disk and reports rule coverage.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anxin_gateway.routes import RouteMatch
from anxin_shared.app import INSTANCE_HEADER, POLICY_VERSION_HEADER, ServiceRuntime, instance_id
from anxin_shared.errors import DependencyUnavailable, NotFound, ValidationFailed
from anxin_shared.policy import (
    FactValue,
    PolicyEngine,
    PolicyLoadError,
    policy_version,
    read_policy_files,
)
from anxin_shared.policy_cases import CaseFileError, parse_fact, parse_instant, run_suite
from anxin_shared.policy_diff import Flip, diff_dirs, request_space
from anxin_shared.policy_explain import explain_decision
from anxin_shared.policy_lint import lint_policies

MAX_CANDIDATE_CHARS = 256 * 1024
MAX_DIFF_REQUESTS = 2_000_000  # decisions one diff may compare (the live policy: ~250,000)
MAX_FLIPS_SHOWN = 500
MAX_REPLICAS = 256
PROBE_TIMEOUT_SECONDS = 2.0
_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
_PATTERN = r"^[A-Za-z0-9_.*-]{1,64}$"


class FactWindow(BaseModel):
    """A fact that holds inside a validity window (a date `valid_until` includes that day)."""

    model_config = ConfigDict(extra="forbid")

    valid_from: datetime | date | None = None
    valid_until: datetime | date | None = None


FactInput = bool | datetime | date | FactWindow
FactName = Annotated[str, Field(pattern=_NAME)]


class ExplainRequest(BaseModel):
    """One request to decide and explain; facts as in a policy case file."""

    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, Field(pattern=_NAME)]
    subsidiary: Annotated[str, Field(pattern=_PATTERN)]
    resource: Annotated[str, Field(pattern=_PATTERN)]
    action: Annotated[str, Field(pattern=_PATTERN)]
    level: Literal["L0", "L1", "L2", "L3"] = "L0"
    facts: Annotated[
        dict[FactName, FactInput],
        Field(max_length=16, json_schema_extra={"additionalProperties": False}),
    ] = {}
    at: datetime | None = None

    def fact_values(self) -> dict[str, FactValue]:
        """The facts as the policy engine takes them."""
        return {
            name: parse_fact(value.model_dump() if isinstance(value, FactWindow) else value)
            for name, value in self.facts.items()
        }


class DiffRequest(BaseModel):
    """A candidate `policy.csv`, compared with the live one (other files: the live ones)."""

    model_config = ConfigDict(extra="forbid")

    policy_csv: Annotated[str, Field(min_length=1, max_length=MAX_CANDIDATE_CHARS)]


_RESPONSES = {
    "policy.version": "The policy version in force",
    "policy.explain": "The decision, role chain, matching allow and deny rules, failed facts",
    "policy.diff": "Every decision and field view the candidate flips (the first 500 listed)",
    "policy.status": "Each replica's policy version, when and how it was seen, shadow counters",
    "policy.checks": "Lint messages, decision-case results and rule coverage",
}
_REQUESTS: dict[str, type[BaseModel]] = {
    "policy.explain": ExplainRequest,
    "policy.diff": DiffRequest,
}


def openapi_operation(resource: str, summary: str) -> dict[str, Any]:
    """The OpenAPI summary, request body and 200 response of a gateway-owned route."""
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {
                "description": _RESPONSES.get(resource, summary),
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    }
    if resource == "policy.version":
        operation["responses"]["200"]["content"]["application/json"]["schema"] = {
            "type": "object",
            "required": ["policy_version"],
            "properties": {"policy_version": {"type": "string"}},
        }
    model = _REQUESTS.get(resource)
    if model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _inline_defs(model.model_json_schema())}},
        }
    return operation


def _inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its local `$defs` references replaced by the definitions themselves."""
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        error = ValidationFailed("the request does not match the schema")
        error.extra["errors"] = [
            {"loc": [str(part) for part in item.get("loc", ())], "msg": item.get("msg", "")}
            for item in exc.errors()
        ]
        raise error from exc


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _write_policy(folder: Path, source: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in source.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@dataclass
class Sighting:
    """The last time one replica told this gateway its policy version."""

    service: str
    instance: str
    policy_version: str
    last_seen: float  # epoch seconds (formatted only when read)
    source: str  # "self", "probe" (its /readyz) or "traffic" (a proxied response)
    policy_error: str | None = None
    shadow: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """The sighting as a JSON-ready dict."""
        return {
            "service": self.service,
            "instance": self.instance,
            "policy_version": self.policy_version,
            "last_seen": _rfc3339(self.last_seen),
            "source": self.source,
            "policy_error": self.policy_error,
            "shadow": self.shadow,
        }


class ReplicaBoard:
    """The last sighting of each backend replica (bounded; the oldest is forgotten first)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Sighting] = {}
        self._lock = threading.Lock()

    def saw(self, service: str, headers: httpx.Headers) -> None:
        """Note the replica and policy version a proxied response names (hot path: cheap)."""
        instance = headers.get(INSTANCE_HEADER)
        version = headers.get(POLICY_VERSION_HEADER)
        if instance and version:
            self.put(Sighting(service, instance[:128], version[:64], time.time(), "traffic"))

    def put(self, sighting: Sighting) -> None:
        """Record a sighting, keeping the shadow counters of an earlier probe of it."""
        key = (sighting.service, sighting.instance)
        with self._lock:
            earlier = self._seen.pop(key, None)
            if earlier is not None and sighting.shadow is None and earlier.shadow is not None:
                sighting.shadow, sighting.policy_error = earlier.shadow, earlier.policy_error
            self._seen[key] = sighting
            while len(self._seen) > MAX_REPLICAS:
                self._seen.pop(next(iter(self._seen)))

    def sightings(self) -> list[Sighting]:
        """Every sighting, by service and instance."""
        with self._lock:
            return sorted(self._seen.values(), key=lambda s: (s.service, s.instance))


class PolicyApi:
    """The handlers of the gateway-owned `/api/v1/policy/*` routes."""

    def __init__(self, runtime: ServiceRuntime, peers: Mapping[str, str]) -> None:
        self.runtime = runtime
        self.peers = dict(peers)
        self.replicas = ReplicaBoard()
        self._heavy = asyncio.Semaphore(1)  # one diff or check run at a time
        self._explainer: PolicyEngine | None = None
        self._explainer_lock = threading.Lock()

    async def handle(self, match: RouteMatch, body: bytes) -> Response:
        """Answer one gateway-owned route (already authorized and audited by the caller)."""
        handlers = {
            "policy.version": self.version,
            "policy.explain": self.explain,
            "policy.diff": self.diff,
            "policy.status": self.status,
            "policy.checks": self.checks,
        }
        handler = handlers.get(match.route.resource)
        if handler is None:
            raise NotFound("no local handler for this route")
        result = await handler(body)
        return JSONResponse(result, headers={"cache-control": "no-store"})

    async def version(self, _: bytes) -> dict[str, Any]:
        """The policy version this gateway enforces."""
        return {"policy_version": self.runtime.policy.version}

    # -- explain -----------------------------------------------------------------
    def _explain_engine(self) -> PolicyEngine:
        """An engine on exactly the live policy, without shadow mode, rebuilt per version."""
        live = self.runtime.policy.state
        with self._explainer_lock:
            if self._explainer is None or self._explainer.version != live.version:
                with tempfile.TemporaryDirectory(prefix="anxin-explain-") as tmp:
                    engine = PolicyEngine(_write_policy(Path(tmp), live.source))
                    engine.load()
                self._explainer = engine
            return self._explainer

    async def explain(self, body: bytes) -> dict[str, Any]:
        """Decide one request on the live policy and explain it."""
        request: ExplainRequest = _parse(ExplainRequest, body)
        facts = request.fact_values()
        now = parse_instant(request.at) if request.at else None

        def run() -> dict[str, Any]:
            explanation = explain_decision(
                self._explain_engine(),
                request.subject,
                request.subsidiary,
                request.resource,
                request.action,
                request.level,
                facts=facts,
                now=now,
            )
            return explanation.record()

        return await asyncio.to_thread(run)

    # -- diff --------------------------------------------------------------------
    async def diff(self, body: bytes) -> dict[str, Any]:
        """Every decision and field view the candidate `policy.csv` would flip."""
        request: DiffRequest = _parse(DiffRequest, body)
        live = dict(self.runtime.policy.state.source)
        async with self._heavy:
            return await asyncio.to_thread(_diff_candidate, live, request.policy_csv)

    # -- status ------------------------------------------------------------------
    async def _probe(self, service: str, url: str) -> tuple[str, bool]:
        http = self.runtime.http
        if http is None:
            raise DependencyUnavailable("the gateway has no HTTP client")
        try:
            response = await http.get(url.rstrip("/") + "/readyz", timeout=PROBE_TIMEOUT_SECONDS)
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return service, False
        if not isinstance(data, dict) or not data.get("instance"):
            return service, False
        self.replicas.put(
            Sighting(
                service,
                str(data["instance"])[:128],
                str(data.get("policy_version") or "none"),
                time.time(),
                "probe",
                data.get("policy_error"),
                data.get("shadow") if isinstance(data.get("shadow"), dict) else None,
            )
        )
        return service, True

    async def status(self, _: bytes) -> dict[str, Any]:
        """The live version of this gateway and of every backend replica it knows of."""
        policy = self.runtime.policy
        probes = await asyncio.gather(
            *(self._probe(service, url) for service, url in self.peers.items())
        )
        me = Sighting(
            "gateway",
            instance_id(),
            policy.version or "none",
            time.time(),
            "self",
            policy.last_error,
            policy.shadow_status(),
        )
        rows = [me, *self.replicas.sightings()]
        return {
            "gateway_version": policy.version,
            "checked_at": _rfc3339(me.last_seen),
            "unreachable": sorted(service for service, ok in probes if not ok),
            "replicas": [
                {**row.record(), "agrees": row.policy_version == policy.version} for row in rows
            ],
        }

    # -- checks ------------------------------------------------------------------
    async def checks(self, _: bytes) -> dict[str, Any]:
        """Lint and the decision cases of the policy folder on disk, with rule coverage."""
        folder = self.runtime.policy.policies_dir
        async with self._heavy:
            report = await asyncio.to_thread(_check_folder, folder)
        report["live_version"] = self.runtime.policy.version
        return report


def _diff_candidate(live: dict[str, str], policy_csv: str) -> dict[str, Any]:
    """Lint and load the candidate beside a copy of the live policy, then diff them."""
    candidate = {**live, "policy.csv": policy_csv}
    with tempfile.TemporaryDirectory(prefix="anxin-diff-") as tmp:
        base_dir = _write_policy(Path(tmp) / "live", live)
        head_dir = _write_policy(Path(tmp) / "candidate", candidate)
        messages = lint_policies(head_dir)
        errors = [m for m in messages if m.severity == "error"]
        if errors:
            raise ValidationFailed(
                f"the candidate policy fails lint with {len(errors)} error(s); nothing was applied",
                lint=[str(m) for m in errors[:50]],
            )
        head = PolicyEngine(head_dir)
        try:
            head.load()
        except PolicyLoadError as exc:
            raise ValidationFailed(
                "the candidate policy does not load; nothing was applied", lint=[str(exc)[:500]]
            ) from exc
        base = PolicyEngine(base_dir)
        base.load()
        space = request_space([base.state, head.state])
        size = len(space[0]) * len(space[1]) * len(space[2]) * len(space[3]) * len(space[4])
        if size > MAX_DIFF_REQUESTS:
            raise ValidationFailed(
                f"the candidate spans {size} requests, over {MAX_DIFF_REQUESTS}: "
                "use `anxin policy diff` instead"
            )
        report = diff_dirs(base_dir, head_dir)
    counts = [
        {"kind": k, "resource": r, "action": a, "before": b, "after": c, "count": n}
        for (k, r, a, b, c), n in sorted(report.counts().items())
    ]
    return {
        "base_version": report.base_version,
        "head_version": report.head_version,
        "decisions_compared": report.decisions_compared,
        "views_compared": report.views_compared,
        "decision_flips": len(report.decision_flips),
        "view_flips": len(report.view_flips),
        "counts": counts,
        "flips": [_flip_record(flip) for flip in report.flips[:MAX_FLIPS_SHOWN]],
        "truncated": len(report.flips) > MAX_FLIPS_SHOWN,
        "warnings": [str(m) for m in messages if m.severity != "error"][:50],
    }


def _flip_record(flip: Flip) -> dict[str, Any]:
    return {
        "kind": flip.kind,
        "subject": flip.subject,
        "subsidiary": flip.subsidiary,
        "resource": flip.resource,
        "action": flip.action,
        "level": flip.level,
        "before": flip.before,
        "after": flip.after,
        "before_rule": flip.before_rule,
        "after_rule": flip.after_rule,
    }


def _folder_version(folder: Path) -> str | None:
    try:
        return policy_version(read_policy_files(folder))
    except PolicyLoadError:
        return None


def _check_folder(folder: Path) -> dict[str, Any]:
    started = time.monotonic()
    messages = lint_policies(folder)
    lint = {
        "errors": sum(m.severity == "error" for m in messages),
        "warnings": sum(m.severity != "error" for m in messages),
        "messages": [str(m) for m in messages[:200]],
    }
    engine = PolicyEngine(folder)
    tests: dict[str, Any]
    try:
        engine.load()
        report = run_suite(engine)
    except (PolicyLoadError, CaseFileError) as exc:
        tests = {"error": str(exc)[:500]}
    else:
        tests = {
            "passed": len(report.results) - len(report.failed),
            "failed": len(report.failed),
            "failures": [
                f"tests/{r.file}:{r.line} {r.name}: {r.message}" for r in report.failed[:100]
            ],
            "rules": report.rules,
            "covered": len(report.covered),
            "coverage": round(report.coverage, 4),
            "threshold": report.threshold,
            "coverage_ok": report.coverage_ok,
            "uncovered": [{"line": line, "rule": rule} for line, rule in report.uncovered[:100]],
        }
    return {
        "folder_version": _folder_version(folder),
        "lint": lint,
        "tests": tests,
        "seconds": round(time.monotonic() - started, 3),
    }
