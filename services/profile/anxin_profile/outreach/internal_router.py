"""Internal route: fraud signals delivered by identity's outbox relay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from anxin_profile.deps import ClockDep, SettingsDep
from anxin_profile.outreach import service
from anxin_profile.outreach.schemas import FraudSignalBatch, FraudSignalsAccepted
from anxin_shared.deps import SessionDep, require_service
from anxin_shared.principal import Principal

router = APIRouter(prefix="/internal/v1", tags=["internal"])
Reporter = Annotated[Principal, Depends(require_service("fraud.signal", "create"))]


@router.post("/fraud-signals", response_model=FraudSignalsAccepted)
def fraud_signals(
    body: FraudSignalBatch, _: Reporter, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> FraudSignalsAccepted:
    """Record `identity.fraud_signal` events: one fraud alert per new event id."""
    return service.record_signals(session, body.events, clock.now(), settings)
