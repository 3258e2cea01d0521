"""`anxin`: the one command for running the suite, tokens, policies and the audit chain."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from anxin_cli.audit_commands import audit_app
from anxin_cli.common import PoliciesOption, VarOption, console, load_engine
from anxin_cli.compliance_commands import compliance_app
from anxin_cli.policy_commands import policy_app
from anxin_cli.suite import Suite
from anxin_shared.devtokens import mint_dev_token

app = typer.Typer(
    help="Anxin (安信): run the suite, issue dev tokens, test policies, verify audit.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
app.add_typer(compliance_app, name="compliance")


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
            f"\nAgent desktop:    {gateway}/desk/  (sign in as agent.li, then 模拟来电)\n"
            f"Security console: {gateway}/console/  (sign in as secadmin.wu)\n"
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
        token = mint_dev_token(load_engine(policies), keys_dir, subject)
    except Exception as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(token)


if __name__ == "__main__":
    app()
