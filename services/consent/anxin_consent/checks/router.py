"""Internal consent-check routes, for Anxin services the policy names (signed service tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from anxin_consent.checks import service
from anxin_consent.checks.schemas import (
    ConsentCheckBatch,
    ConsentCheckBatchResult,
    ConsentCheckRequest,
    ConsentCheckResult,
)
from anxin_shared.deps import SessionDep, require_service

internal_router = APIRouter(
    prefix="/internal/v1",
    tags=["internal"],
    dependencies=[Depends(require_service("consent.record", "verify"))],
)


async def check_cache(request: Request) -> service.CheckCache:
    """Dependency: this replica's check cache."""
    cache: service.CheckCache = request.app.state.consent_cache
    return cache


@internal_router.post("/consent:check", response_model=ConsentCheckResult)
def check_consent(
    body: ConsentCheckRequest, session: SessionDep, cache: service.CheckCache = Depends(check_cache)
) -> ConsentCheckResult:
    """Whether a live consent holds for exactly this scope."""
    return service.check_many(session, cache, [body])[0]


@internal_router.post("/consent:check-batch", response_model=ConsentCheckBatchResult)
def check_consents(
    body: ConsentCheckBatch, session: SessionDep, cache: service.CheckCache = Depends(check_cache)
) -> ConsentCheckBatchResult:
    """Several checks at once (e.g. one per field classification of a gated read)."""
    return ConsentCheckBatchResult(results=service.check_many(session, cache, body.checks))
