"""Write each backend's public OpenAPI (paths under /api/v1) to the gateway's snapshots.

Usage: `python scripts/export_openapi.py [SERVICE ...]` (default: all four).

The gateway serves the merged document without importing service code; a
test fails when these snapshots fall behind the services.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "services/gateway/anxin_gateway/openapi"
BACKENDS = ("identity", "consent", "profile", "audit")


def public_schema(service: str) -> dict[str, Any]:
    """The /api/v1 part of a backend's OpenAPI document."""
    module = importlib.import_module(f"anxin_{service}.main")
    document: dict[str, Any] = module.create_app().openapi()
    paths = {
        path: item
        for path, item in document.get("paths", {}).items()
        if path.startswith("/api/v1/")
    }
    return {
        "paths": paths,
        "components": {"schemas": document.get("components", {}).get("schemas", {})},
    }


def render(service: str) -> str:
    """The snapshot text for one service."""
    return json.dumps(public_schema(service), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    chosen = [name for name in sys.argv[1:] if name in BACKENDS] or list(BACKENDS)
    for service in chosen:
        (SNAPSHOT_DIR / f"{service}.json").write_text(render(service), encoding="utf-8")
        print(f"wrote {SNAPSHOT_DIR / (service + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
