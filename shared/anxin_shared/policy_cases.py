"""Decision cases for `policies/tests/*.yaml`: what security staff assert about a policy.

A case file holds `cases` (one request and the expected decision) and
`field_views` (the expected view of some classifications for a caller)::

    cases:
      - name: an agent reads a profile of their own subsidiary
        request: {subject: agent.li, subsidiary: life, resource: customer.profile,
                  action: read, level: L0}
        expect: allow                       # or deny
        failed_fact: assurance_level        # optional, for a deny
        matched_rule: "agent, *, ..."       # optional
    field_views:
      - name: an agent at L1 sees a phone number masked
        request: {subject: agent.li, subsidiary: life, level: L1}
        expect: {pi.contact.phone: masked}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anxin_shared.policy import PolicyEngine


@dataclass(frozen=True)
class CaseResult:
    """One case and whether the policy meets it."""

    file: str
    line: int
    name: str
    passed: bool
    message: str


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers each mapping's line number."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_case_files(policies_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every case file in `policies/tests/`, parsed with line numbers."""
    files = sorted((policies_dir / "tests").glob("*.yaml"))
    # _LineLoader is a SafeLoader subclass: no arbitrary objects.
    loader = _LineLoader
    return [
        (path, yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {})  # noqa: S506
        for path in files
    ]


def _request(case: dict[str, Any]) -> dict[str, str]:
    request = case.get("request") or {}
    return {key: str(value) for key, value in request.items() if key != "__line__"}


def run_cases(engine: PolicyEngine) -> list[CaseResult]:
    """Run every case against the engine's policy."""
    results: list[CaseResult] = []
    for path, document in load_case_files(engine.policies_dir):
        for case in document.get("cases") or []:
            results.append(_run_decision_case(engine, path.name, case))
        for case in document.get("field_views") or []:
            results.append(_run_view_case(engine, path.name, case))
    return results


def _run_decision_case(engine: PolicyEngine, file: str, case: dict[str, Any]) -> CaseResult:
    request = _request(case)
    name, line = str(case.get("name", "unnamed")), int(case.get("__line__", 0))
    try:
        decision = engine.decide(
            request["subject"],
            request["subsidiary"],
            request["resource"],
            request["action"],
            request.get("level", "L0"),
        )
    except KeyError as exc:
        return CaseResult(file, line, name, False, f"request lacks {exc}")
    expected = str(case.get("expect", "")).lower()
    if expected not in ("allow", "deny"):
        return CaseResult(file, line, name, False, "expect must be allow or deny")
    problems = []
    if decision.allowed != (expected == "allow"):
        problems.append(
            f"expected {expected}, got {'allow' if decision.allowed else 'deny'}"
            f" ({'; '.join(decision.reasons)})"
        )
    if "failed_fact" in case and decision.failed_fact != case["failed_fact"]:
        problems.append(f"expected failed fact {case['failed_fact']}, got {decision.failed_fact}")
    if "matched_rule" in case and decision.matched_rule != case["matched_rule"]:
        problems.append(f"expected rule {case['matched_rule']!r}, got {decision.matched_rule!r}")
    return CaseResult(file, line, name, not problems, "; ".join(problems) or "ok")


def _run_view_case(engine: PolicyEngine, file: str, case: dict[str, Any]) -> CaseResult:
    request = _request(case)
    name, line = str(case.get("name", "unnamed")), int(case.get("__line__", 0))
    try:
        views = engine.field_views(
            request["subject"], request["subsidiary"], request.get("level", "L0")
        )
    except KeyError as exc:
        return CaseResult(file, line, name, False, f"request lacks {exc}")
    expected = {k: v for k, v in (case.get("expect") or {}).items() if k != "__line__"}
    problems = [
        f"{classification}: expected {view}, got {views.get(classification, 'unknown')}"
        for classification, view in expected.items()
        if views.get(classification) != view
    ]
    if not expected:
        problems.append("no expected views")
    return CaseResult(file, line, name, not problems, "; ".join(problems) or "ok")
