"""The identity service: call sessions, and (later) the verification that raises their level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_identity.calls.router import router as calls_router
from anxin_identity.settings import IdentitySettings
from anxin_shared.app import create_service_app

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_app(settings: IdentitySettings | None = None, **options: Any) -> FastAPI:
    """Build the identity app."""
    settings = settings or IdentitySettings()
    return create_service_app(
        settings,
        title="Anxin identity",
        migrations_dir=MIGRATIONS_DIR,
        public=[calls_router],
        **options,
    )


def __getattr__(name: str) -> Any:
    """`anxin_identity.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
