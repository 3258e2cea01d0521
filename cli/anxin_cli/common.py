"""What the `anxin` sub-commands share: options and policy loading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from anxin_shared.policy import PolicyEngine, PolicyLoadError

console = Console()
PoliciesOption = Annotated[Path, typer.Option("--policies", help="policy folder")]
VarOption = Annotated[Path, typer.Option("--var", envvar="ANXIN_VAR_DIR", help="state folder")]


def load_engine(policies: Path) -> PolicyEngine:
    """Load a policy folder or exit with status 2 and the reason."""
    engine = PolicyEngine(policies)
    try:
        engine.load()
    except PolicyLoadError as exc:
        console.print(f"[red]policy does not load:[/red] {exc}")
        raise typer.Exit(2) from exc
    return engine
