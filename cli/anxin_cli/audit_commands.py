"""`anxin audit …`: work with the audit trail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from anxin_cli.common import PoliciesOption, VarOption, console, load_engine
from anxin_shared.devtokens import mint_dev_token

audit_app = typer.Typer(help="Work with the audit trail.", no_args_is_help=True)


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
        token = mint_dev_token(load_engine(policies), var / "keys", "auditor.zheng")
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
