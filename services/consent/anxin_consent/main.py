"""The consent service: the notices customers are shown, and (later) what they agreed to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_consent.notices.router import router as notices_router
from anxin_consent.seed import seed_notices
from anxin_consent.settings import ConsentSettings
from anxin_shared.app import ServiceRuntime, create_service_app

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_app(settings: ConsentSettings | None = None, **options: Any) -> FastAPI:
    """Build the consent app."""
    settings = settings or ConsentSettings()

    async def on_start(runtime: ServiceRuntime) -> None:
        if settings.is_dev and settings.seed_demo_data:

            def seed() -> None:
                with runtime.database.session() as session:
                    seed_notices(session)

            await asyncio.to_thread(seed)

    return create_service_app(
        settings,
        title="Anxin consent",
        migrations_dir=MIGRATIONS_DIR,
        public=[notices_router],
        on_start=on_start,
        **options,
    )


def __getattr__(name: str) -> Any:
    """`anxin_consent.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
