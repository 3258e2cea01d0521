"""`anxin compliance …`: the signed compliance report from the running suite, and its check.

Exit status of `report`: 0 when every control passes, 1 when any fails or is
not evidenced (the report is still written), 2 when it could not run.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from anxin_cli.common import PoliciesOption, VarOption, load_engine
from anxin_cli.compliance import html, signing
from anxin_cli.compliance.api import GatewayApi, ReportAbort, TokenSource, token_file_source
from anxin_cli.compliance.catalogue import CatalogueError, load_catalogue
from anxin_cli.compliance.figures import collect
from anxin_cli.compliance.report import (
    ReportOptions,
    attest_in_trail,
    build_report,
    find_attestation,
)
from anxin_shared.devtokens import mint_dev_token
from anxin_shared.policy import PolicyEngine

compliance_app = typer.Typer(help="Evidence that each control works.", no_args_is_help=True)
errors = Console(stderr=True)
STYLE = {"pass": "green", "fail": "red", "not_evidenced": "yellow"}


def _when(value: str | None, default: datetime | None) -> datetime | None:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO date or time: {value}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dev_tokens(engine: PolicyEngine, var: Path) -> TokenSource:
    keys = var / "keys"
    if os.environ.get("ANXIN_ENV", "dev") != "dev" or not (keys / "idp.key.pem").exists():
        raise ReportAbort("no --token-file, and no dev keys to mint tokens with (dev only)")
    return lambda subject: mint_dev_token(engine, keys, subject)


@compliance_app.command("report")
def compliance_report(
    out: Annotated[Path, typer.Option("--out", help="folder for report.json and report.html")],
    gateway: Annotated[str, typer.Option(envvar="ANXIN_GATEWAY_URL")] = "http://127.0.0.1:8000",
    since: Annotated[str | None, typer.Option(help="period start (default: 30 days ago)")] = None,
    until: Annotated[str | None, typer.Option(help="period end (default: when checks end)")] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help='JSON {"subject": "bearer token"} (dev: minted)'),
    ] = None,
    control: Annotated[
        list[str] | None, typer.Option("--control", help="only these control ids")
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="Ed25519 key (dev default: generated in <var>/keys)"),
    ] = None,
    record: Annotated[bool, typer.Option(help="record the report by an audit checkpoint")] = True,
    catalogue_file: Annotated[
        Path | None, typer.Option("--catalogue", help="default: <policies>/controls.yaml")
    ] = None,
    policies: PoliciesOption = Path("policies"),
    var: VarOption = Path("var"),
) -> None:
    """Run every control's checks against the suite; write the signed JSON and HTML report."""
    try:
        catalogue = load_catalogue(catalogue_file or policies / "controls.yaml")
    except CatalogueError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    engine = load_engine(policies)
    dev = os.environ.get("ANXIN_ENV", "dev") == "dev"
    key_path = signing_key or signing.key_paths(var / "keys")[0]
    try:
        key = signing.load_or_create_key(key_path, create=dev and signing_key is None)
        tokens = token_file_source(token_file) if token_file else _dev_tokens(engine, var)
    except (ReportAbort, FileNotFoundError, ValueError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    start = _when(since, datetime.now(UTC) - timedelta(days=30))
    assert start is not None
    options = ReportOptions(
        since=start, until=_when(until, None), only=frozenset(control or ()), record=record
    )
    api = GatewayApi(gateway, tokens)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
        ) as progress:
            task = progress.add_task("checking controls…")
            report = build_report(
                catalogue,
                engine,
                api,
                options,
                collect,
                lambda text: progress.update(task, description=text),
            )
            signed = signing.sign(report, key)
            if record:
                progress.update(task, description="attesting the signed report in the audit trail")
                signed["attestation"] = attest_in_trail(api, signed)
    except ReportAbort as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        api.close()
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(signed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "report.html").write_text(html.render(signed), encoding="utf-8")
    table = Table("control", "result", "title", title="Anxin compliance report")
    for entry in signed["controls"]:
        style = STYLE[entry["status"]]
        table.add_row(entry["id"], f"[{style}]{entry['status']}[/{style}]", entry["title"])
    errors.print(table)
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "summary": signed["summary"],
                "sha256": signed["signature"]["sha256"],
                "key_id": signed["signature"]["key_id"],
                "checkpoint": (signed["recorded_in_audit"].get("checkpoint") or {}).get("seq"),
                "attestation": (signed.get("attestation") or {}).get("event_id"),
            }
        )
    )
    if record and not signed["attestation"]["recorded"]:
        errors.print(f"[red]not attested: {signed['attestation']['problem']}[/red]")
        raise typer.Exit(1)
    if signed["summary"]["fail"] or signed["summary"]["not_evidenced"]:
        raise typer.Exit(1)


@compliance_app.command("verify")
def compliance_verify(
    report_file: Annotated[Path, typer.Argument(help="a report.json")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="expected signer (default: embedded key)")
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option(help="also check the report's attestation in this suite's audit trail"),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help='JSON {"subject": "bearer token"} (dev: minted)'),
    ] = None,
    policies: PoliciesOption = Path("policies"),
    var: VarOption = Path("var"),
) -> None:
    """Check a report's signature (and, with --gateway, its attestation); exit 1 if either fails."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
        key = None
        if public_key is not None:
            loaded = serialization.load_pem_public_key(public_key.read_bytes())
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError(f"{public_key} is not an Ed25519 public key")
            key = loaded
    except (OSError, ValueError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    problem = signing.verify(report, key)
    if problem is None and gateway is not None:
        problem = _check_attestation(report, gateway, token_file, policies, var)
    typer.echo(json.dumps({"ok": problem is None, "problem": problem}))
    if problem:
        raise typer.Exit(1)


def _check_attestation(
    report: dict[str, Any], gateway: str, token_file: Path | None, policies: Path, var: Path
) -> str | None:
    """None when the trail attests exactly this report's signed hash."""
    attestation = report.get("attestation") or {}
    if not attestation.get("recorded"):
        return "the report carries no attestation"
    if attestation.get("document_sha256") != report["signature"]["sha256"]:
        return "the attestation names another hash than the signature"
    try:
        tokens = (
            token_file_source(token_file) if token_file else _dev_tokens(load_engine(policies), var)
        )
        api = GatewayApi(gateway, tokens)
        try:
            return find_attestation(api, attestation)
        finally:
            api.close()
    except ReportAbort as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
