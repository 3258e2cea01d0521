"""Decision cases for `policies/tests/*.yaml`: what security staff assert about a policy.

A case file holds `cases` (one request and the expected decision) and
`field_views` (the expected view of some classifications for a caller), plus
optional file-level settings::

    clock: 2026-06-01T09:00:00+08:00     # the fixed "now" of every case in the file
    coverage_threshold: 0.8              # `anxin policy test` fails under this rule coverage
    cases:
      - name: a contractor with a valid agreement reads a profile
        request: {subject: contractor.sun, subsidiary: pc, resource: customer.profile,
                  action: read, level: L0}
        facts:                             # checked in order, only when the policy allows
          consent: true
          active_call: true
          agreement: {valid_from: 2026-01-01, valid_until: 2026-12-31}
        clock: 2027-01-02T00:00:00Z       # optional, overrides the file's clock
        expect: deny                       # allow or deny
        failed_fact: agreement             # optional
        matched_rule: "outsourced_agent, *, customer.profile, read, L0, allow"  # optional
        field_views: {pi.identity.name: masked}   # optional: the views the decision carries
    field_views:
      - name: an agent at L1 sees a phone number masked
        request: {subject: agent.li, subsidiary: life, level: L1}
        expect: {pi.contact.phone: masked}

A fact is `true`/`false`, a date or datetime (valid until, that day included),
or `{valid_from, valid_until}`, judged at the fixed clock (default
`DEFAULT_CLOCK`), so a case gives the same answer on any day.

Rule coverage: a `p` rule is covered when its matcher holds for the request
of some case (a field-view case exercises the view rules of every
classification). The report names each uncovered rule by its `policy.csv` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from casbin.persist.adapter import _extract_tokens

from anxin_shared.policy import FactValue, PolicyEngine, Validity

DEFAULT_CLOCK = datetime(2026, 1, 1, tzinfo=UTC)


class CaseFileError(ValueError):
    """A case file is not YAML or not shaped like a case file."""


@dataclass(frozen=True)
class CaseResult:
    """One case and whether the policy meets it."""

    file: str
    line: int
    name: str
    passed: bool
    message: str


@dataclass
class SuiteReport:
    """Every case's result, and the rule coverage they reach."""

    results: list[CaseResult]
    rules: int = 0
    covered: set[int] = field(default_factory=set)
    uncovered: list[tuple[int, str]] = field(default_factory=list)  # (policy.csv line, rule)
    threshold: float = 0.0

    @property
    def coverage(self) -> float:
        """Covered `p` rules / all `p` rules (1.0 for a policy without rules)."""
        return len(self.covered) / self.rules if self.rules else 1.0

    @property
    def failed(self) -> list[CaseResult]:
        """The cases that did not pass."""
        return [result for result in self.results if not result.passed]

    @property
    def coverage_ok(self) -> bool:
        """Whether coverage reaches the threshold."""
        return self.coverage + 1e-9 >= self.threshold


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers each mapping's line number."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_case_files(policies_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every case file in `policies/tests/`, parsed with line numbers."""
    documents = []
    for path in sorted((policies_dir / "tests").glob("*.yaml")):
        try:
            # _LineLoader is a SafeLoader subclass: no arbitrary objects.
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506
        except yaml.YAMLError as exc:
            raise CaseFileError(f"tests/{path.name}: not valid YAML: {exc}") from exc
        if document is None:
            document = {}
        if not isinstance(document, dict):
            raise CaseFileError(f"tests/{path.name}: a case file is a mapping")
        documents.append((path, document))
    return documents


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != "__line__"}
    return value


def _request(case: dict[str, Any]) -> dict[str, str]:
    request = _clean(case.get("request") or {})
    return {key: str(value) for key, value in request.items()}


def parse_instant(value: Any) -> datetime:
    """A clock value from YAML or the command line: a datetime or date (UTC if naive)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"not a date or time: {value!r}")


def parse_fact(value: Any) -> FactValue:
    """A fact from a case file or `--fact k=v`: bool, date/datetime, or a validity window."""
    value = _clean(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        if len(lowered) == 10:  # YYYY-MM-DD: valid through that whole day
            return date.fromisoformat(lowered)
        return parse_instant(value)
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, dict) and set(value) <= {"valid_from", "valid_until"}:
        return Validity(
            valid_from=parse_instant(value["valid_from"]) if value.get("valid_from") else None,
            valid_until=_until(value.get("valid_until")),
        )
    raise ValueError(f"a fact is true/false, a date, or {{valid_from, valid_until}}: {value!r}")


def _until(value: Any) -> datetime | date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # a whole day, included
    return parse_instant(value)


def _facts(case: dict[str, Any]) -> dict[str, FactValue]:
    raw = case.get("facts") or {}
    if not isinstance(raw, dict):
        raise ValueError("facts must be a mapping")
    return {str(name): parse_fact(value) for name, value in raw.items() if name != "__line__"}


def run_cases(engine: PolicyEngine) -> list[CaseResult]:
    """Run every case against the engine's policy."""
    return run_suite(engine).results


def run_suite(engine: PolicyEngine, threshold: float | None = None) -> SuiteReport:
    """Run every case, measure rule coverage; `threshold` overrides the files' setting."""
    report = SuiteReport(results=[])
    state = engine.state
    fast = state.fast
    file_threshold = 0.0
    for path, document in load_case_files(engine.policies_dir):
        try:
            clock = parse_instant(document.get("clock", DEFAULT_CLOCK))
            file_threshold = max(file_threshold, float(document.get("coverage_threshold", 0)))
        except (TypeError, ValueError) as exc:
            report.results.append(CaseResult(path.name, 1, "file settings", False, str(exc)))
            continue
        for case in document.get("cases") or []:
            report.results.append(_run_decision_case(engine, path.name, case, clock))
            if fast is not None:
                _cover_decision(engine, report, case)
        for case in document.get("field_views") or []:
            report.results.append(_run_view_case(engine, path.name, case))
            if fast is not None:
                _cover_views(engine, report, case)
    report.threshold = file_threshold if threshold is None else threshold
    if fast is not None:
        report.rules = len(fast.rules)
        lines = rule_lines(state.source["policy.csv"])
        report.uncovered = [
            (lines[rule.index] if rule.index < len(lines) else 0, rule.text)
            for rule in fast.rules
            if rule.index not in report.covered
        ]
    return report


def rule_lines(policy_csv: str) -> list[int]:
    """The `policy.csv` line number of each `p` rule, in the order casbin loads them."""
    lines = []
    for number, raw in enumerate(policy_csv.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = _extract_tokens(line)
        if tokens and tokens[0] == "p":
            lines.append(number)
    return lines


def _level(request: Mapping[str, str]) -> str:
    return request.get("level", "L0")


def _cover_decision(engine: PolicyEngine, report: SuiteReport, case: dict[str, Any]) -> None:
    request = _request(case)
    fast = engine.state.fast
    if fast is None or not {"subject", "subsidiary", "resource", "action"} <= set(request):
        return
    for rule in fast.matching(
        request["subject"],
        request["subsidiary"],
        request["resource"],
        request["action"],
        _level(request),
    ):
        report.covered.add(rule.index)
    if case.get("field_views"):
        _cover_views(engine, report, case)


def _cover_views(engine: PolicyEngine, report: SuiteReport, case: dict[str, Any]) -> None:
    request = _request(case)
    state = engine.state
    if state.fast is None or not {"subject", "subsidiary"} <= set(request):
        return
    for classification in state.classifications:
        for action in ("view.plain", "view.masked"):
            for rule in state.fast.matching(
                request["subject"], request["subsidiary"], classification, action, _level(request)
            ):
                report.covered.add(rule.index)


def _run_decision_case(
    engine: PolicyEngine, file: str, case: dict[str, Any], clock: datetime
) -> CaseResult:
    request = _request(case)
    name, line = str(case.get("name", "unnamed")), int(case.get("__line__", 0))
    expected_views = _clean(case.get("field_views") or {})
    try:
        now = parse_instant(case["clock"]) if "clock" in case else clock
        decision = engine.decide(
            request["subject"],
            request["subsidiary"],
            request["resource"],
            request["action"],
            request.get("level", "L0"),
            facts=_facts(case),
            with_field_views=bool(expected_views),
            now=now,
        )
    except KeyError as exc:
        return CaseResult(file, line, name, False, f"request lacks {exc}")
    except (TypeError, ValueError) as exc:
        return CaseResult(file, line, name, False, f"invalid case: {exc}")
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
    for classification, view in expected_views.items():
        got = decision.field_views.get(classification, "none (denied)")
        if got != view:
            problems.append(f"{classification}: expected {view}, got {got}")
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
    expected = _clean(case.get("expect") or {})
    problems = [
        f"{classification}: expected {view}, got {views.get(classification, 'unknown')}"
        for classification, view in expected.items()
        if views.get(classification) != view
    ]
    if not expected:
        problems.append("no expected views")
    return CaseResult(file, line, name, not problems, "; ".join(problems) or "ok")
