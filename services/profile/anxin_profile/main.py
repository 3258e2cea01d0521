"""The profile service: the customer master, disclosed field by field as policy allows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_profile.clock import Clock
from anxin_profile.customers.router import router as customers_router
from anxin_profile.outbound.router import router as outbound_router
from anxin_profile.outreach import dispatch as outreach
from anxin_profile.outreach.internal_router import router as fraud_signals_router
from anxin_profile.outreach.router import router as outreach_router
from anxin_profile.outreach.seed import seed_templates
from anxin_profile.portrait.router import router as portrait_router
from anxin_profile.quality import service as quality
from anxin_profile.quality.router import router as quality_router
from anxin_profile.rights.router import router as rights_router
from anxin_profile.seed import seed_bad_records, seed_customers
from anxin_profile.settings import ProfileSettings
from anxin_profile.sharing.internal_router import router as consent_events_router
from anxin_profile.sharing.router import router as sharing_router
from anxin_profile.verification.router import router as verification_router
from anxin_shared.app import ServiceRuntime, create_service_app, served

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
logger = logging.getLogger("anxin.profile")


async def enforce_deadlines(runtime: ServiceRuntime, clock: Clock, interval: float) -> None:
    """Suspend past-deadline records and hold commission, every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)

        def run() -> None:
            with runtime.database.session() as session:
                quality.enforce(session, list(quality.SUBSIDIARIES), clock.now())

        try:
            await asyncio.to_thread(run)
        except Exception as exc:  # the database may be down; try again next time
            logger.warning("data-quality enforcement failed: %s", type(exc).__name__)


def create_app(
    settings: ProfileSettings | None = None, clock: Clock | None = None, **options: Any
) -> FastAPI:
    """Build the profile app (tests pass a `Clock` they can move)."""
    settings = settings or ProfileSettings()
    clock = clock or Clock()

    async def on_start(runtime: ServiceRuntime) -> None:
        if settings.is_dev and settings.seed_demo_data:

            def seed() -> None:
                with runtime.database.session() as session:
                    seed_customers(session)
                    seed_bad_records(session)
                    seed_templates(session, clock.now())

            await asyncio.to_thread(seed)
        if settings.quality_enforcement_interval_seconds > 0:
            runtime.tasks.append(
                asyncio.create_task(
                    enforce_deadlines(runtime, clock, settings.quality_enforcement_interval_seconds)
                )
            )
        if settings.outreach_dispatch_interval_seconds > 0:
            runtime.tasks.append(
                asyncio.create_task(outreach.run_dispatcher(runtime, clock, settings))
            )

    options.setdefault("relay_sender_factory", outreach.relay_sender(settings))
    app = create_service_app(
        settings,
        title="Anxin profile",
        migrations_dir=MIGRATIONS_DIR,
        public=[
            customers_router,
            portrait_router,
            rights_router,
            outbound_router,
            quality_router,
            sharing_router,
            outreach_router,
        ],
        internal=[verification_router, consent_events_router, fraud_signals_router],
        on_start=on_start,
        **options,
    )
    app.state.clock = clock
    return app


def __getattr__(name: str) -> Any:
    """`anxin_profile.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return served(create_app())
    raise AttributeError(name)
