"""The gateway's audit trail: one event per call, allowed or denied, via the outbox.

The event is committed to the gateway's own database before the response
leaves, so no response is returned whose audit event could still be lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.db import Database
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision
from anxin_shared.principal import Principal

ANONYMOUS = Principal(subject="anonymous", kind="user", subsidiary="")


def _write(database: Database, event: dict[str, Any]) -> None:
    with database.session() as session:
        enqueue(session, AUDIT_TOPIC, event)


async def record_call(
    database: Database,
    principal: Principal | None,
    decision: Decision | None,
    *,
    resource: str,
    action: str,
    method: str,
    path: str,
    status_code: int,
    allowed: bool,
) -> str:
    """Durably store the audit event of one gateway call; return its event id."""
    event = decision_event(
        "gateway",
        principal or ANONYMOUS,
        decision,
        action=action,
        resource=resource,
        allowed=allowed,
        method=method,
        path=path,
        status_code=status_code,
    )
    await asyncio.to_thread(_write, database, event)
    return str(event["event_id"])
