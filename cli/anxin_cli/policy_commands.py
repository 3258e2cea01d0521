"""`anxin policy …`: lint, test, explain and diff the policy in policies/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from anxin_cli.common import PoliciesOption, console, load_engine
from anxin_shared.policy_cases import run_cases

policy_app = typer.Typer(
    help="Lint, test and explain the policy in policies/.", no_args_is_help=True
)


@policy_app.command("test")
def policy_test(policies: PoliciesOption = Path("policies")) -> None:
    """Run the decision cases in policies/tests/*.yaml."""
    engine = load_engine(policies)
    results = run_cases(engine)
    failed = [result for result in results if not result.passed]
    for result in failed:
        console.print(
            f"[red]FAIL[/red] tests/{result.file}:{result.line} {result.name}: {result.message}"
        )
    console.print(
        f"policy {engine.version}: {len(results) - len(failed)} passed, {len(failed)} failed"
    )
    if failed or not results:
        raise typer.Exit(1)


@policy_app.command("explain")
def policy_explain(
    subject: str,
    subsidiary: str,
    resource: str,
    action: str,
    level: Annotated[str, typer.Option(help="assurance level L0-L3")] = "L0",
    policies: PoliciesOption = Path("policies"),
) -> None:
    """Decide one request and print the full decision record."""
    decision = load_engine(policies).decide(
        subject, subsidiary, resource, action, level, with_field_views=True
    )
    typer.echo(json.dumps(decision.record(), indent=2, ensure_ascii=False))
    if not decision.allowed:
        raise typer.Exit(1)
