"""The consent service: notices, consent records, checks, withdrawal and the customer's copy."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_consent.checks.router import internal_router as checks_router
from anxin_consent.checks.service import CheckCache
from anxin_consent.notices.router import router as notices_router
from anxin_consent.records.router import router as records_router
from anxin_consent.records.service import expire_due
from anxin_consent.seed import seed_notices
from anxin_consent.settings import ConsentSettings
from anxin_shared.app import ServiceRuntime, create_service_app, served

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
logger = logging.getLogger("anxin.consent")


async def sweep_expired(runtime: ServiceRuntime, interval: float) -> None:
    """Close expired grants periodically, until cancelled (any replica may; each row once)."""

    def sweep() -> int:
        with runtime.database.session() as session:
            return expire_due(session)

    while True:
        try:
            await asyncio.to_thread(sweep)
        except Exception as exc:  # the database may be down, or another replica raced us
            logger.warning("consent expiry sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)


def create_app(settings: ConsentSettings | None = None, **options: Any) -> FastAPI:
    """Build the consent app."""
    settings = settings or ConsentSettings()

    async def on_start(runtime: ServiceRuntime) -> None:
        if settings.is_dev and settings.seed_demo_data:

            def seed() -> None:
                with runtime.database.session() as session:
                    seed_notices(session)

            await asyncio.to_thread(seed)
        runtime.tasks.append(
            asyncio.create_task(sweep_expired(runtime, settings.expiry_sweep_seconds))
        )

    app = create_service_app(
        settings,
        title="Anxin consent",
        migrations_dir=MIGRATIONS_DIR,
        public=[notices_router, records_router],
        internal=[checks_router],
        on_start=on_start,
        **options,
    )
    app.state.consent_cache = CheckCache()
    return app


def __getattr__(name: str) -> Any:
    """`anxin_consent.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return served(create_app())
    raise AttributeError(name)
