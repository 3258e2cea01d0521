"""Keep the architecture easy to see: no service imports another; shared declares its API."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import anxin_shared

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("gateway", "identity", "consent", "profile", "audit")


def imported_modules(folder: Path) -> set[str]:
    """Every module imported by the Python files under `folder` (tests excluded)."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    modules = imported_modules(REPO / "services" / service)
    others = {f"anxin_{name}" for name in SERVICES if name != service} | {"anxin_cli"}
    offending = sorted(m for m in modules if m.split(".")[0] in others)
    assert offending == []


def test_services_import_only_the_declared_shared_api() -> None:
    used = set()
    for folder in [*(REPO / "services" / name for name in SERVICES), REPO / "cli"]:
        used |= {m.split(".")[1] for m in imported_modules(folder) if m.startswith("anxin_shared.")}
    assert used, "no service imports anxin_shared"
    assert used <= set(anxin_shared.__all__), sorted(used - set(anxin_shared.__all__))


@pytest.mark.parametrize("module", anxin_shared.__all__)
def test_every_declared_module_exists(module: str) -> None:
    importlib.import_module(f"anxin_shared.{module}")
