"""`anxin policy …`: lint, test, explain and diff the policy in policies/.

Exit statuses: 0 fine; 1 lint errors / failing cases or coverage under the
threshold / a denied explain / (diff --exit-code) a flip; 2 the policy does not
load; 3 a case file is unreadable.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from anxin_cli.common import PoliciesOption, console, load_engine
from anxin_shared.policy import PolicyEngine, PolicyLoadError
from anxin_shared.policy_cases import (
    CaseFileError,
    parse_fact,
    parse_instant,
    run_suite,
)
from anxin_shared.policy_diff import DiffReport, diff_engines, export_git_policies
from anxin_shared.policy_explain import explain_decision
from anxin_shared.policy_lint import lint_policies

EXIT_FAILED, EXIT_INVALID_POLICY, EXIT_INVALID_CASES = 1, 2, 3

policy_app = typer.Typer(
    help="Lint, test, explain and diff the policy in policies/.", no_args_is_help=True
)


@policy_app.command("lint")
def policy_lint(
    policies: PoliciesOption = Path("policies"),
    strict: Annotated[bool, typer.Option(help="warnings fail too")] = False,
) -> None:
    """Check the model, rules and data dictionary against catalogue.yaml (file:line messages)."""
    messages = lint_policies(policies)
    for message in messages:
        typer.echo(
            f"{policies / message.file}:{message.line}: {message.severity}"
            f" [{message.code}] {message.message}"
        )
    errors = sum(message.severity == "error" for message in messages)
    warnings = len(messages) - errors
    typer.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors or (strict and warnings):
        raise typer.Exit(EXIT_FAILED)


@policy_app.command("test")
def policy_test(
    policies: PoliciesOption = Path("policies"),
    min_coverage: Annotated[
        float | None,
        typer.Option(help="rule coverage to reach, 0-1 (default: coverage_threshold in the files)"),
    ] = None,
    show_uncovered: Annotated[bool, typer.Option(help="list every uncovered rule")] = False,
) -> None:
    """Run the decision cases in policies/tests/*.yaml on a fixed clock; report rule coverage."""
    engine = load_engine(policies)
    try:
        report = run_suite(engine, min_coverage)
    except CaseFileError as exc:
        console.print(f"[red]invalid case file:[/red] {exc}")
        raise typer.Exit(EXIT_INVALID_CASES) from exc
    for result in report.failed:
        typer.echo(f"FAIL tests/{result.file}:{result.line} {result.name}: {result.message}")
    passed = len(report.results) - len(report.failed)
    typer.echo(f"policy {engine.version}: {passed} passed, {len(report.failed)} failed")
    if report.rules:
        typer.echo(
            f"rule coverage: {len(report.covered)}/{report.rules} = {report.coverage:.1%}"
            f" (threshold {report.threshold:.0%})"
        )
        shown = report.uncovered if show_uncovered else report.uncovered[:10]
        for line, rule in shown:
            typer.echo(f"  not covered: policy.csv:{line}: {rule}")
        if len(shown) < len(report.uncovered):
            typer.echo(f"  … and {len(report.uncovered) - len(shown)} more (--show-uncovered)")
    if not report.coverage_ok:
        typer.echo(f"FAIL rule coverage {report.coverage:.1%} is under {report.threshold:.0%}")
    if report.failed or not report.results or not report.coverage_ok:
        raise typer.Exit(EXIT_FAILED)


def _parse_facts(facts: list[str]) -> dict[str, Any]:
    parsed = {}
    for item in facts:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"--fact takes name=value, got {item!r}")
        try:
            parsed[name.strip()] = parse_fact(value.strip())
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return parsed


@policy_app.command("explain")
def policy_explain(
    subject: str,
    subsidiary: str,
    resource: str,
    action: str,
    level: Annotated[str, typer.Option(help="assurance level L0-L3")] = "L0",
    fact: Annotated[
        list[str] | None,
        typer.Option(help="a fact name=value (true/false, or a valid-until date); repeatable"),
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="the clock for dated facts (ISO), default now")
    ] = None,
    stock: Annotated[bool, typer.Option(help="decide with stock pycasbin, not the fast path")] = (
        False
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the decision record only")] = (
        False
    ),
    policies: PoliciesOption = Path("policies"),
) -> None:
    """Decide one request: the decision, role chain, matched allow/deny rules, failed facts."""
    engine = PolicyEngine(policies, stock=stock)
    try:
        engine.load()
    except PolicyLoadError as exc:
        console.print(f"[red]policy does not load:[/red] {exc}")
        raise typer.Exit(EXIT_INVALID_POLICY) from exc
    facts = _parse_facts(fact or [])
    now = parse_instant(at) if at else None
    explanation = explain_decision(
        engine, subject, subsidiary, resource, action, level, facts=facts, now=now
    )
    decision = explanation.decision
    if as_json:
        typer.echo(json.dumps(decision.record(), indent=2, ensure_ascii=False))
        if not decision.allowed:
            raise typer.Exit(EXIT_FAILED)
        return
    request = (subject, subsidiary, resource, action, decision.assurance_level)
    verdict = "ALLOW" if decision.allowed else "DENY"
    typer.echo(f"{verdict}  {' '.join(request)}")
    typer.echo(
        f"policy version: {decision.policy_version} ({'stock pycasbin' if stock else 'fast path'})"
    )
    typer.echo(f"decision id:    {decision.decision_id}")
    typer.echo("role chain:")
    if engine.state.fast is None or not explanation.role_chain:
        held = ", ".join(explanation.roles) or "no role"
        typer.echo(f"  {subject} holds {held} in {subsidiary}")
    for name, role, link_dom in explanation.role_chain:
        typer.echo(f"  {name} -> {role}  (g, {name}, {role}, {link_dom})")
    typer.echo(f"matched rule:   {decision.matched_rule or 'none'}")
    for effect in ("allow", "deny"):
        chosen = explanation.rules(effect)
        typer.echo(f"matching {effect} rules: {len(chosen)}")
        for match in chosen:
            typer.echo(f"  policy.csv:{match.line}: {', '.join(match.rule)}")
    typer.echo(f"facts:          {', '.join(f'{k}={v}' for k, v in facts.items()) or 'none given'}")
    typer.echo(f"failed facts:   {', '.join(explanation.failed_facts) or 'none'}")
    typer.echo(f"failed:         {decision.failed_fact or 'nothing'}")
    for reason in decision.reasons:
        typer.echo(f"reason:         {reason}")
    if decision.allowed:
        typer.echo("field views:")
        for classification, view in sorted(decision.field_views.items()):
            typer.echo(f"  {classification}: {view}")
    if not decision.allowed:
        raise typer.Exit(EXIT_FAILED)


def _print_diff(report: DiffReport, base_label: str, head_label: str, limit: int | None) -> None:
    typer.echo(
        f"policy diff: {base_label} ({report.base_version}) -> {head_label} ({report.head_version})"
    )
    typer.echo(
        f"compared {report.decisions_compared} decisions and {report.views_compared} field views"
    )
    decisions, views = report.decision_flips, report.view_flips
    to_allow = sum(flip.after == "allow" for flip in decisions)
    typer.echo(
        f"{len(decisions)} decision(s) flipped ({to_allow} deny -> allow,"
        f" {len(decisions) - to_allow} allow -> deny), {len(views)} field view(s) changed"
    )
    if not report.flips:
        return
    typer.echo("counts:")
    for (kind, resource, action, before, after), count in sorted(report.counts().items()):
        what = f"{resource} {action}" if kind == "decision" else f"{resource} view"
        typer.echo(f"  {count:6d}  {kind:10s} {what}: {before} -> {after}")
    typer.echo("changes:")
    shown = report.flips if limit is None else report.flips[:limit]
    for flip in shown:
        typer.echo(f"  {flip}")
    if len(shown) < len(report.flips):
        typer.echo(f"  … and {len(report.flips) - len(shown)} more (--limit)")


@policy_app.command("diff")
def policy_diff(
    base: Annotated[
        str | None, typer.Option(help="git ref of the base policy (default HEAD)")
    ] = None,
    against: Annotated[
        Path | None, typer.Option(help="a folder holding the base policy instead of a git ref")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="print at most this many changes")] = None,
    exit_code: Annotated[bool, typer.Option(help="exit 1 when anything changes")] = False,
    policies: PoliciesOption = Path("policies"),
) -> None:
    """List every decision and field view that changes between a base policy and this one."""
    head = load_engine(policies)
    with tempfile.TemporaryDirectory(prefix="anxin-policy-base-") as tmp:
        if against is not None:
            base_dir, label = against, str(against)
        else:
            ref = base or "HEAD"
            try:
                base_dir = export_git_policies(ref, policies, Path(tmp))
            except PolicyLoadError as exc:
                console.print(f"[red]cannot read the base policy:[/red] {exc}")
                raise typer.Exit(EXIT_INVALID_POLICY) from exc
            label = ref
        base_engine = load_engine(base_dir)
        report = diff_engines(base_engine, head)
    _print_diff(report, label, str(policies), limit)
    if exit_code and report.flips:
        raise typer.Exit(EXIT_FAILED)
