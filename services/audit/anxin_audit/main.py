"""The audit service: the tamper-evident trail every producer's outbox delivers to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from anxin_audit.alerts.evaluator import AlertEvaluator
from anxin_audit.alerts.router import router as alerts_router
from anxin_audit.checkpoints.service import Checkpointer, export_to_anchors
from anxin_audit.checkpoints.signing import load_signing_key
from anxin_audit.events.repository import tune_sqlite
from anxin_audit.events.router import internal_router
from anxin_audit.events.router import router as events_router
from anxin_audit.events.service import APPEND_LOCK, append
from anxin_audit.ledger.router import router as ledger_router
from anxin_audit.retention.router import router as retention_router
from anxin_audit.settings import AuditSettings
from anxin_audit.state import AuditState
from anxin_shared.app import ServiceRuntime, create_service_app, served
from anxin_shared.audit_event import AUDIT_TOPIC, AuditEvent
from anxin_shared.outbox import Sender

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
logger = logging.getLogger("anxin.audit")


def _local_sender(state: AuditState) -> Callable[[ServiceRuntime], Sender]:
    """The audit service's own audit events append straight to its chain."""

    def factory(runtime: ServiceRuntime) -> Sender:
        async def send(topic: str, events: list[dict[str, Any]]) -> None:
            if topic != AUDIT_TOPIC:
                await runtime.deliver(topic, events)
                return

            def write() -> None:
                validated = [AuditEvent.model_validate(event) for event in events]
                append(runtime.database, validated, state.checkpointer)

            await asyncio.to_thread(write)

        return send

    return factory


async def _every(interval: float, name: str, work: Callable[[], Awaitable[Any]]) -> None:
    """Run `work` every `interval` seconds until cancelled; a failure is logged and retried."""
    while True:
        await asyncio.sleep(interval)
        try:
            await work()
        except Exception as exc:  # the database or an anchor may be down; try again
            logger.warning("%s failed: %s", name, type(exc).__name__)


def _start_tasks(state: AuditState) -> Callable[[ServiceRuntime], Awaitable[None]]:
    settings = state.settings

    async def on_start(runtime: ServiceRuntime) -> None:
        checkpointer = state.signer()
        database = runtime.database

        def stale_checkpoint() -> None:
            with APPEND_LOCK, database.session() as session:
                checkpointer.if_stale(session, settings.checkpoint_every_seconds)

        async def checkpoints() -> None:
            await asyncio.to_thread(stale_checkpoint)
            await export_to_anchors(
                database, settings.anchor_file, settings.anchor_url, runtime.http
            )

        evaluator = AlertEvaluator(database, settings)

        async def alerts() -> None:
            await asyncio.to_thread(evaluator.run_once)

        tick = min(1.0, max(0.05, settings.checkpoint_every_seconds / 4))
        runtime.tasks.append(asyncio.create_task(_every(tick, "checkpoint", checkpoints)))
        runtime.tasks.append(
            asyncio.create_task(_every(settings.alert_interval_seconds, "alerts", alerts))
        )

    return on_start


def create_app(settings: AuditSettings | None = None, **options: Any) -> FastAPI:
    """Build the audit app."""
    settings = settings or AuditSettings()
    # The key is loaded before anything can append: every record is covered by checkpoints.
    assert settings.checkpoint_key_file is not None
    key = load_signing_key(settings.checkpoint_key_file, generate=settings.is_dev)
    state = AuditState(settings, Checkpointer(key, settings.checkpoint_every_events))
    app = create_service_app(
        settings,
        title="Anxin audit",
        migrations_dir=MIGRATIONS_DIR,
        public=[events_router, alerts_router, ledger_router, retention_router],
        internal=[internal_router],
        relay_sender_factory=_local_sender(state),
        on_start=_start_tasks(state),
        **options,
    )
    app.state.audit = state
    tune_sqlite(app.state.runtime.database.engine)
    return app


def __getattr__(name: str) -> Any:
    """`anxin_audit.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return served(create_app())
    raise AttributeError(name)
