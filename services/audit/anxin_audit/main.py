"""The audit service: the tamper-evident trail every producer's outbox delivers to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_audit.events.router import internal_router
from anxin_audit.events.router import router as events_router
from anxin_audit.events.service import append
from anxin_audit.settings import AuditSettings
from anxin_shared.app import ServiceRuntime, create_service_app
from anxin_shared.audit_event import AUDIT_TOPIC, AuditEvent
from anxin_shared.outbox import Sender

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _local_sender(runtime: ServiceRuntime) -> Sender:
    """The audit service's own audit events append straight to its chain."""

    async def send(topic: str, events: list[dict[str, Any]]) -> None:
        if topic != AUDIT_TOPIC:
            await runtime.deliver(topic, events)
            return

        def write() -> None:
            append(runtime.database, [AuditEvent.model_validate(event) for event in events])

        await asyncio.to_thread(write)

    return send


def create_app(settings: AuditSettings | None = None, **options: Any) -> FastAPI:
    """Build the audit app."""
    settings = settings or AuditSettings()
    return create_service_app(
        settings,
        title="Anxin audit",
        migrations_dir=MIGRATIONS_DIR,
        public=[events_router],
        internal=[internal_router],
        relay_sender_factory=_local_sender,
        **options,
    )


def __getattr__(name: str) -> Any:
    """`anxin_audit.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return create_app()
    raise AttributeError(name)
