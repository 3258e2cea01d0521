"""`anxin audit …`: verify the audit chain (live, an export, against an anchor file), export it.

Exit status of `verify`: 0 when the chain verifies, 1 when it does not (the
report names the first bad sequence number), 2 when verification could not
run (no access, no key, an unreadable file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from anxin_audit.checkpoints.signing import (
    KEY_NAME,
    Checkpoint,
    load_public_key,
    read_anchor_file,
    signature_problem,
)
from anxin_audit.events.export import ExportError, checkpoint_line, header_line, record_line
from anxin_audit.events.export import verify_export as verify_export_file
from anxin_cli.common import PoliciesOption, VarOption, load_engine
from anxin_shared.devtokens import mint_dev_token

audit_app = typer.Typer(help="Work with the audit trail.", no_args_is_help=True)
progress_console = Console(stderr=True)
errors = Console(stderr=True)

GatewayOption = Annotated[str, typer.Option(envvar="ANXIN_GATEWAY_URL")]
TokenOption = Annotated[
    str | None,
    typer.Option(envvar="ANXIN_TOKEN", help="bearer token (dev: minted for auditor.zheng)"),
]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help=f"checkpoint public key (default: <var>/keys/{KEY_NAME}.pub.pem)",
    ),
]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console,
        transient=True,
    )


def _token(token: str | None, policies: Path, var: Path, subject: str) -> str:
    if token is not None:
        return token
    return mint_dev_token(load_engine(policies), var / "keys", subject)


def _public_key_path(public_key: Path | None, var: Path) -> Path:
    return public_key or var / "keys" / f"{KEY_NAME}.pub.pem"


def _fail_to_run(message: str) -> typer.Exit:
    errors.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise _fail_to_run(f"the gateway is unreachable: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise _fail_to_run(f"{response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def _finish(report: dict[str, Any]) -> None:
    typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if not report["ok"]:
        errors.print(
            f"[red]chain broken at seq {report.get('first_bad_seq')}: {report.get('problem')}[/red]"
        )
        raise typer.Exit(1)


def _anchors(checkpoint: Path, key_path: Path) -> list[Checkpoint]:
    """Read an anchor file and check every signature locally, before trusting any of it."""
    try:
        anchors = read_anchor_file(checkpoint)
    except (OSError, ValueError) as exc:
        raise _fail_to_run(f"cannot read the checkpoint file {checkpoint}: {exc}") from exc
    if not anchors:
        raise _fail_to_run(f"{checkpoint} holds no checkpoint")
    if not key_path.exists():
        raise _fail_to_run(f"no checkpoint public key at {key_path} (use --public-key)")
    public_key = load_public_key(key_path)
    for anchor in anchors:
        problem = signature_problem(anchor, public_key)
        if problem is not None:
            _finish(
                {
                    "ok": False,
                    "records": 0,
                    "head_seq": 0,
                    "head_hash": "",
                    "first_bad_seq": anchor.seq,
                    "problem": f"{checkpoint.name}: {problem} (forged or damaged anchor)",
                }
            )
    return anchors


def _verify_live(client: httpx.Client, chunk: int) -> dict[str, Any]:
    """Verify range by range on the server, chaining each range to the last one's head."""
    from_seq, expected_prev, total_records, anchored = 1, None, 0, 0
    with _progress() as progress:
        task = progress.add_task("verifying the audit chain", total=None)
        while True:
            params: dict[str, Any] = {"from_seq": from_seq, "to_seq": from_seq + chunk - 1}
            if expected_prev is not None:
                params["expected_prev_hash"] = expected_prev
            report = _call(client, "GET", "/api/v1/audit/chain/verify", params=params)
            total_records += report["records"]
            anchored += report.get("checkpoints_verified", 0)
            head = report["chain_head_seq"]
            progress.update(task, total=max(head, 1), completed=min(report["head_seq"], head))
            if not report["ok"] or params["to_seq"] >= head:
                return {**report, "records": total_records, "checkpoints_verified": anchored}
            from_seq, expected_prev = report["head_seq"] + 1, report["head_hash"]


@audit_app.command("verify")
def audit_verify(
    gateway: GatewayOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="verify an export or archive file offline"),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="an external anchor file of signed checkpoints"),
    ] = None,
    public_key: PublicKeyOption = None,
    chunk: Annotated[int, typer.Option(min=1000, help="records per verified range")] = 100_000,
    policies: PoliciesOption = Path("policies"),
    var: VarOption = Path("var"),
) -> None:
    """Verify the audit chain; exit 1 (with the first bad seq) on any break."""
    key_path = _public_key_path(public_key, var)
    anchors = _anchors(checkpoint, key_path) if checkpoint is not None else []
    if export is not None:
        if not key_path.exists():
            raise _fail_to_run(f"no checkpoint public key at {key_path} (use --public-key)")
        try:
            size = export.stat().st_size
        except OSError as exc:
            raise _fail_to_run(f"cannot read {export}: {exc.strerror}") from exc
        with _progress() as progress:
            task = progress.add_task(f"verifying {export.name}", total=None)
            try:
                verdict = verify_export_file(
                    export,
                    load_public_key(key_path),
                    anchors,
                    on_progress=lambda n: progress.update(task, completed=n),
                )
            except (ExportError, ValueError, KeyError) as exc:
                raise _fail_to_run(f"{export} is not a readable export: {exc}") from exc
        result = {**verdict.__dict__, "file": str(export), "bytes": size}
        _finish(result)
        return
    bearer = _token(token, policies, var, "auditor.zheng")
    with httpx.Client(
        base_url=gateway, headers={"authorization": f"Bearer {bearer}"}, timeout=300
    ) as client:
        if anchors:
            with _progress() as progress:
                progress.add_task("verifying the chain against the anchor file", total=None)
                body = {"checkpoints": [anchor.as_dict() for anchor in anchors[-1000:]]}
                report = _call(client, "POST", "/api/v1/audit/chain/verify", json=body)
            report["anchor_file"] = str(checkpoint)
        else:
            report = _verify_live(client, chunk)
    _finish(report)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="file to write (JSON lines)")],
    gateway: GatewayOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    page: Annotated[int, typer.Option(min=1, max=5000)] = 5000,
    policies: PoliciesOption = Path("policies"),
    var: VarOption = Path("var"),
) -> None:
    """Copy the chain and its checkpoints to a file kept elsewhere (check it with --export)."""
    bearer = _token(token, policies, var, "secadmin.wu")
    after, written = 0, 0
    with (
        httpx.Client(
            base_url=gateway, headers={"authorization": f"Bearer {bearer}"}, timeout=120
        ) as client,
        out.open("w", encoding="utf-8") as handle,
        _progress() as progress,
    ):
        task = progress.add_task("exporting the audit chain", total=None)
        first = True
        while True:
            data = _call(
                client,
                "GET",
                "/api/v1/audit/chain/export",
                params={"after_seq": after, "limit": page},
            )
            if first:
                start = Checkpoint.from_dict(data["start"]) if data["start"] else None
                handle.write(header_line(start) + "\n")
                first = False
            for item in data["checkpoints"]:
                handle.write(checkpoint_line(Checkpoint.from_dict(item)) + "\n")
            for record in data["records"]:
                handle.write(
                    record_line(record["seq"], record["prev_hash"], record["hash"], record["body"])
                    + "\n"
                )
            written += len(data["records"])
            progress.update(task, total=data["head_seq"], completed=written)
            if data["next_after_seq"] is None:
                break
            after = data["next_after_seq"]
    typer.echo(json.dumps({"file": str(out), "records": written}))
