"""Internal verification routes (service tokens only, each allowed by policy)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from anxin_profile.verification import service
from anxin_profile.verification.schemas import (
    CustomerExists,
    DeviceMatchRequest,
    KnowledgeCheckRequest,
    KnowledgeCheckResult,
    KnowledgeQuestions,
    MatchResult,
    NumberMatchRequest,
    OtpDestination,
)
from anxin_shared.deps import SessionDep, require_service
from anxin_shared.principal import Principal

router = APIRouter(prefix="/internal/v1", tags=["internal"])
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Verifier = Annotated[Principal, Depends(require_service("customer.verification", "read"))]
Registrar = Annotated[Principal, Depends(require_service("customer.existence", "read"))]


@router.post("/contact-points:match", response_model=MatchResult)
def match_contact_point(body: NumberMatchRequest, _: Verifier, session: SessionDep) -> MatchResult:
    """Customers whose registered number this is."""
    return service.match_number(session, body.number)


@router.post("/devices:match", response_model=MatchResult)
def match_device(body: DeviceMatchRequest, _: Verifier, session: SessionDep) -> MatchResult:
    """Customers with this known device or app account."""
    return service.match_device(session, body.device_id)


@router.get("/customers/{customer_id}/knowledge-questions", response_model=KnowledgeQuestions)
def knowledge_questions(
    customer_id: CustomerId, _: Verifier, session: SessionDep
) -> KnowledgeQuestions:
    """Questions the caller can be asked (never the answers)."""
    return service.questions(session, customer_id)


@router.post("/customers/{customer_id}/knowledge:check", response_model=KnowledgeCheckResult)
def knowledge_check(
    customer_id: CustomerId, body: KnowledgeCheckRequest, _: Verifier, session: SessionDep
) -> KnowledgeCheckResult:
    """Whether the caller's answer is right."""
    return KnowledgeCheckResult(
        correct=service.check(session, customer_id, body.question_id, body.answer)
    )


@router.get("/customers/{customer_id}/otp-destination", response_model=OtpDestination)
def otp_destination(
    customer_id: CustomerId, caller: Verifier, session: SessionDep
) -> OtpDestination:
    """The registered mobile number, for the SMS adapter only."""
    return service.otp_destination(session, caller, customer_id)


@router.get("/customers/{customer_id}/exists", response_model=CustomerExists)
def customer_exists(customer_id: CustomerId, _: Registrar, session: SessionDep) -> CustomerExists:
    """Whether a customer id exists, and its subsidiary."""
    return service.exists(session, customer_id)
