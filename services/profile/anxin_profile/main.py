"""The profile service: the customer master, disclosed field by field as policy allows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_profile.customers.router import router as customers_router
from anxin_profile.seed import seed_customers
from anxin_profile.settings import ProfileSettings
from anxin_shared.app import ServiceRuntime, create_service_app

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_app(settings: ProfileSettings | None = None, **options: Any) -> FastAPI:
    """Build the profile app."""
    settings = settings or ProfileSettings()

    async def on_start(runtime: ServiceRuntime) -> None:
        if settings.is_dev and settings.seed_demo_data:

            def seed() -> None:
                with runtime.database.session() as session:
                    seed_customers(session)

            await asyncio.to_thread(seed)

    return create_service_app(
        settings,
        title="Anxin profile",
        migrations_dir=MIGRATIONS_DIR,
        public=[customers_router],
        on_start=on_start,
        **options,
    )


def __getattr__(name: str) -> Any:
    """`anxin_profile.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
