"""Call-session routes: thin handlers that parse, then call one service function."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Query

from anxin_identity.calls import codes, service
from anxin_identity.calls.profile import ProfileClient
from anxin_identity.calls.schemas import (
    CallSessionCreate,
    CallSessionPublic,
    CodeEntry,
    CodeSent,
    CustomerLink,
    FactorResult,
    KnowledgeAnswer,
    KnowledgeQuestionList,
    SessionChanges,
    SessionResolution,
    SessionResolve,
)
from anxin_identity.settings import IdentitySettings
from anxin_shared.deps import PrincipalDep, RuntimeDep, SessionDep, require_service
from anxin_shared.principal import Principal

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Resolver = Annotated[Principal, Depends(require_service("call.session", "read"))]


async def identity_settings(runtime: RuntimeDep) -> IdentitySettings:
    """The settings this identity app was built with."""
    return cast(IdentitySettings, runtime.settings)


async def profile_client(runtime: RuntimeDep) -> ProfileClient:
    """Profile's internal verification API, with identity's service token."""
    return ProfileClient(runtime.peers)


IdentitySettingsDep = Annotated[IdentitySettings, Depends(identity_settings)]
ProfileDep = Annotated[ProfileClient, Depends(profile_client)]


@router.post("", response_model=CallSessionPublic, status_code=201)
async def open_call_session(
    body: CallSessionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: IdentitySettingsDep,
    profile: ProfileDep,
) -> CallSessionPublic:
    """Open a call session bound to the calling agent; link the customer the ANI names."""
    return await service.open_with_profile(
        session,
        runtime.policy,
        principal,
        body,
        settings.session_ttl_seconds,
        hash_key=settings.ani_key,
        profile=profile,
    )


@router.get("/{session_id}", response_model=CallSessionPublic)
def read_call_session(
    session_id: SessionId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> CallSessionPublic:
    """One of the caller's own call sessions, with its level, factors and risk."""
    return service.read_call_session(session, runtime.policy, principal, session_id)


@router.put("/{session_id}/customer", response_model=CallSessionPublic)
async def link_customer(
    session_id: SessionId,
    body: CustomerLink,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    profile: ProfileDep,
) -> CallSessionPublic:
    """Link the customer the caller identifies themselves as."""
    return await service.link_with_profile(
        session, runtime.policy, principal, session_id, body.customer_id, profile
    )


@router.post("/{session_id}/close", response_model=CallSessionPublic)
def close_call_session(
    session_id: SessionId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> CallSessionPublic:
    """Close the call: the session lends no level to any later request."""
    return service.close_call_session(session, runtime.policy, principal, session_id)


@router.get("/{session_id}/knowledge-questions", response_model=KnowledgeQuestionList)
async def knowledge_questions(
    session_id: SessionId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    profile: ProfileDep,
) -> KnowledgeQuestionList:
    """Questions to ask the linked customer (never the answers)."""
    return await service.knowledge_questions(
        session, runtime.policy, principal, session_id, profile
    )


@router.post("/{session_id}/knowledge-answers", response_model=FactorResult)
async def answer_question(
    session_id: SessionId,
    body: KnowledgeAnswer,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    profile: ProfileDep,
) -> FactorResult:
    """The caller's answer, compared by the server; the level follows."""
    return await service.answer_question(
        session, runtime.policy, principal, session_id, body, profile
    )


@router.post("/{session_id}/codes", response_model=CodeSent, status_code=202)
def send_code(
    session_id: SessionId,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: IdentitySettingsDep,
) -> CodeSent:
    """Send a one-time code by SMS to the linked customer's registered mobile."""
    return codes.send_code(
        session,
        runtime.policy,
        principal,
        session_id,
        key=settings.code_key,
        digits=settings.otp_digits,
        ttl_seconds=settings.otp_ttl_seconds,
        sms_enabled=settings.sms_gateway != "none",
    )


@router.post("/{session_id}/codes/verify", response_model=FactorResult)
def verify_code(
    session_id: SessionId,
    body: CodeEntry,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    settings: IdentitySettingsDep,
) -> FactorResult:
    """The code the caller reads back: single use, before it expires."""
    return codes.verify_code(
        session,
        runtime.policy,
        principal,
        session_id,
        body.code,
        key=settings.code_key,
    )


@internal_router.get("/call-sessions/changes", response_model=SessionChanges)
def call_session_changes(
    _: Resolver,
    session: SessionDep,
    runtime: RuntimeDep,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> SessionChanges:
    """For the gateway: which call sessions changed after `after` (its leases end there)."""
    return service.session_changes(session, runtime.policy, after)


@internal_router.post("/call-sessions:resolve", response_model=SessionResolution)
def resolve_call_session(
    body: SessionResolve, _: Resolver, session: SessionDep, runtime: RuntimeDep
) -> SessionResolution:
    """For the gateway: the level and verified customer a request naming this session gets."""
    agent = Principal(
        subject=body.subject,
        kind="user",
        subsidiary=body.subsidiary,
        roles=tuple(body.roles),
    )
    return service.resolve_for_gateway(
        session, runtime.policy, agent, body.call_session, body.known_version
    )
