"""The gateway's audit trail: one event per call, allowed or denied, via the outbox.

The event is committed to the gateway's own database before the response
leaves, so no response is returned whose audit event could still be lost.

Commits are grouped: the events of calls finishing at the same moment are
written in one transaction by one worker-thread hop (`AuditWriter`), and each
call waits until the commit holding its event has returned. Under load this
turns hundreds of single-row commits (each a thread hop and a turn at
SQLite's single write lock) into a few batches; a lone call is written at
once, as before. If the commit fails, every call in the batch fails closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.db import Database
from anxin_shared.outbox import enqueue_many
from anxin_shared.policy import Decision
from anxin_shared.principal import Principal

ANONYMOUS = Principal(subject="anonymous", kind="user", subsidiary="")
MAX_BATCH = 500


def _write(database: Database, events: list[dict[str, Any]]) -> None:
    with database.session() as session:
        enqueue_many(session, AUDIT_TOPIC, events)


class AuditWriter:
    """Group commit: events waiting at the same time share one transaction."""

    def __init__(self, database: Database, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self.max_batch = max_batch
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, event: dict[str, Any]) -> None:
        """Return once `event` is committed; raise what the commit raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                failure: Exception | None = None
                try:
                    await asyncio.to_thread(_write, self.database, [event for event, _ in batch])
                except Exception as exc:
                    failure = exc
                for _, done in batch:
                    if done.done():
                        continue
                    if failure is None:
                        done.set_result(None)
                    else:
                        done.set_exception(failure)
        except asyncio.CancelledError:
            for _, done in [*batch, *self._waiting]:
                done.cancel()
            self._waiting.clear()
            raise


async def record_call(
    writer: AuditWriter,
    principal: Principal | None,
    decision: Decision | None,
    *,
    resource: str,
    action: str,
    method: str,
    path: str,
    status_code: int,
    allowed: bool,
    customer_ref: str | None = None,
) -> str:
    """Durably store the audit event of one gateway call; return its event id."""
    event = decision_event(
        "gateway",
        principal or ANONYMOUS,
        decision,
        action=action,
        resource=resource,
        allowed=allowed,
        customer_ref=customer_ref,
        method=method,
        path=path,
        status_code=status_code,
    )
    await writer.write(event)
    return str(event["event_id"])
