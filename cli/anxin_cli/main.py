"""`anxin`: the one command for running the suite, tokens, policies and the audit chain."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from anxin_cli.suite import Suite
from anxin_shared.devtokens import mint_dev_token
from anxin_shared.policy import PolicyEngine, PolicyLoadError
from anxin_shared.policy_cases import run_cases

app = typer.Typer(
    help="Anxin (安信): run the suite, issue dev tokens, test policies, verify audit.",
    no_args_is_help=True,
)
policy_app = typer.Typer(
    help="Lint, test and explain the policy in policies/.", no_args_is_help=True
)
audit_app = typer.Typer(help="Work with the audit trail.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
console = Console()

PoliciesOption = Annotated[Path, typer.Option("--policies", help="policy folder")]
VarOption = Annotated[Path, typer.Option("--var", envvar="ANXIN_VAR_DIR", help="state folder")]


def _engine(policies: Path) -> PolicyEngine:
    engine = PolicyEngine(policies)
    try:
        engine.load()
    except PolicyLoadError as exc:
        console.print(f"[red]policy does not load:[/red] {exc}")
        raise typer.Exit(2) from exc
    return engine


@app.command()
def up(
    var: VarOption = Path("var"),
    policies: Annotated[Path, typer.Option("--policies", envvar="ANXIN_POLICIES_DIR")] = Path(
        "policies"
    ),
    host: str = "127.0.0.1",
    timeout: float = 60.0,
) -> None:
    """Start the gateway and the four services on the embedded default (SQLite, dev keys)."""
    if os.environ.get("ANXIN_ENV", "dev") != "dev":
        console.print(
            "[red]`anxin up` runs the dev suite; deploy production with "
            "docker-compose or k8s/[/red]"
        )
        raise typer.Exit(2)
    suite = Suite(var_dir=var.resolve(), policies_dir=policies.resolve(), host=host)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    suite.start()
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
        ) as progress:
            task = progress.add_task("starting services…")

            def tick(status: dict[str, bool]) -> None:
                waiting = [name for name, ok in status.items() if not ok]
                progress.update(task, description=f"waiting for {', '.join(waiting)}…")

            status = suite.wait_ready(timeout, tick)
        if not all(status.values()):
            failed = ", ".join(name for name, ok in status.items() if not ok)
            console.print(
                f"[red]not ready after {timeout:.0f} s: {failed}[/red] "
                f"(logs in {suite.var_dir / 'logs'})"
            )
            raise typer.Exit(1)
        table = Table("service", "url", title="Anxin is up (ANXIN_ENV=dev)")
        for service in suite.ports:
            table.add_row(service, suite.url(service))
        console.print(table)
        gateway = suite.url("gateway")
        # Plain echo, not rich: the commands must survive copy and paste unwrapped.
        typer.echo(
            "\nFirst call: a life-insurance agent lists their customers, masked by policy:\n"
            "  TOKEN=$(.venv/bin/anxin dev-token agent.li)\n"
            f'  curl -s "{gateway}/api/v1/customers?limit=3" -H "Authorization: Bearer $TOKEN"\n'
            f"\nSeeded subjects: {gateway}/dev/subjects\n"
            f"API reference:   {gateway}/docs  (OpenAPI: {gateway}/openapi.json)\n"
            "Stop with Ctrl-C."
        )
        while all(process.poll() is None for process in suite.processes.values()):
            time.sleep(0.5)
        console.print("[red]a service stopped; shutting the suite down[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        suite.stop()


@app.command("dev-token")
def dev_token(
    subject: str,
    policies: PoliciesOption = Path("policies"),
    var: VarOption = Path("var"),
) -> None:
    """Print a dev bearer token for a seeded user or client (dev only)."""
    if os.environ.get("ANXIN_ENV", "dev") != "dev":
        console.print("[red]dev tokens exist only with ANXIN_ENV=dev[/red]")
        raise typer.Exit(2)
    keys_dir = var / "keys"
    if not (keys_dir / "idp.key.pem").exists():
        console.print(f"[red]no dev keys in {keys_dir}; run `make run` first[/red]")
        raise typer.Exit(2)
    try:
        token = mint_dev_token(_engine(policies), keys_dir, subject)
    except Exception as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(token)


@policy_app.command("test")
def policy_test(policies: PoliciesOption = Path("policies")) -> None:
    """Run the decision cases in policies/tests/*.yaml."""
    engine = _engine(policies)
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
    decision = _engine(policies).decide(
        subject, subsidiary, resource, action, level, with_field_views=True
    )
    typer.echo(json.dumps(decision.record(), indent=2, ensure_ascii=False))
    if not decision.allowed:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    gateway: Annotated[str, typer.Option(envvar="ANXIN_GATEWAY_URL")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None,
        typer.Option(envvar="ANXIN_TOKEN", help="bearer token (dev: minted for auditor)"),
    ] = None,
    policies: PoliciesOption = Path("policies"),
    var: VarOption = Path("var"),
) -> None:
    """Ask the audit service to recompute the hash chain; exit 1 on any break."""
    if token is None:
        token = mint_dev_token(_engine(policies), var / "keys", "auditor.zheng")
    response = httpx.get(
        f"{gateway}/api/v1/audit/chain/verify",
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
    )
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(2)
    report = response.json()
    typer.echo(json.dumps(report, indent=2))
    if not report["ok"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
