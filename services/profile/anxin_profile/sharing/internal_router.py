"""Internal route: consent events delivered by the consent service's outbox relay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from anxin_profile.sharing import service
from anxin_profile.sharing.schemas import ConsentEventBatch, ConsentEventsAccepted
from anxin_shared.deps import SessionDep, require_service
from anxin_shared.principal import Principal

router = APIRouter(prefix="/internal/v1", tags=["internal"])
Publisher = Annotated[Principal, Depends(require_service("consent.event", "create"))]


@router.post("/consent-events", response_model=ConsentEventsAccepted)
def consent_events(
    body: ConsentEventBatch, _: Publisher, session: SessionDep
) -> ConsentEventsAccepted:
    """Record `consent.withdrawn` events (idempotent by event id)."""
    return service.record_withdrawals(session, body.events)
