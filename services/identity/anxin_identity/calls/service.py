"""Call sessions: opened by an agent, bound to that agent, decided and audited in one transaction.

The caller's number (ANI) is normalized, hashed and masked here, and the raw
value goes no further: not into the database, the audit event or the response.
A session of another agent and a session that does not exist get the same 403,
so the answer never reveals whether an id exists.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from anxin_identity.calls import repository
from anxin_identity.calls.models import CallSession
from anxin_identity.calls.schemas import CallSessionCreate, CallSessionPublic
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Forbidden
from anxin_shared.masking import mask_mobile
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "call.session"
NO_ACCESS = "no access to this call session"
# Call-session operations are decided at L0: a level belongs to a verified session,
# and opening or reading one comes before any verification.
DECISION_LEVEL = "L0"
# Frictionless verification (registered number + attestation + known device, checked
# against the profile's contact points) comes in a later issue. Until then a session
# honestly stays at L0 instead of claiming a level nothing has established.
OPENING_LEVEL = "L0"
_COUNTRY_PREFIXED_MOBILE = re.compile(r"(?:\+|00)?86(1[3-9][0-9]{9})")


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time as UTC; SQLite hands timezone-aware columns back naive."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def normalize_ani(ani: str) -> str:
    """The national form of a validated ANI: no dash, no +86 / 0086 / 86 prefix."""
    digits = ani.replace("-", "")
    prefixed = _COUNTRY_PREFIXED_MOBILE.fullmatch(digits)
    return prefixed.group(1) if prefixed else digits


def ani_hash(ani: str) -> str:
    """SHA-256 hex of the normalized number: the only form of it that is stored whole."""
    return hashlib.sha256(normalize_ani(ani).encode("ascii")).hexdigest()


def new_session_id() -> str:
    """An opaque, unguessable session id in the gateway's id alphabet [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(16)


def public_view(call: CallSession, decision: Decision, now: datetime) -> CallSessionPublic:
    """The session as its agent sees it; an open session past its expiry reads as expired."""
    expires_at = as_utc(call.expires_at)
    status = "expired" if call.status == "open" and expires_at <= now else call.status
    return CallSessionPublic.model_validate(
        {
            "id": call.id,
            "direction": call.direction,
            "channel": call.channel,
            "attestation": call.attestation,
            "ani_masked": call.ani_masked,
            "status": status,
            "assurance_level": call.assurance_level,
            "created_at": as_utc(call.created_at),
            "expires_at": expires_at,
            "decision_id": decision.decision_id,
            "policy_version": decision.policy_version,
        }
    )


def _audit(
    session: Session, principal: Principal, decision: Decision, action: str, session_id: str | None
) -> None:
    # The event names the call session acted on, not the one the token may carry.
    actor = replace(principal, call_session=session_id) if session_id else principal
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event("identity", actor, decision, action=action, resource=RESOURCE),
    )


def open_call_session(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    create: CallSessionCreate,
    ttl_seconds: int,
) -> CallSessionPublic:
    """Open a session bound to this agent, in the agent's own subsidiary, if policy allows."""
    decision = policy.decide(
        principal.subject, principal.subsidiary, RESOURCE, "create", DECISION_LEVEL
    )
    if not decision.allowed:
        _audit(session, principal, decision, "create", None)
        raise Forbidden("you may not open a call session", decision_id=decision.decision_id)
    session_id = new_session_id()
    _audit(session, principal, decision, "create", session_id)
    now = utcnow()
    normalized = normalize_ani(create.ani)
    call = repository.add_call_session(
        session,
        CallSession(
            id=session_id,
            agent=principal.subject,
            subsidiary=principal.subsidiary,
            direction=create.direction,
            channel=create.channel,
            attestation=create.attestation,
            ani_masked=mask_mobile(normalized),
            ani_hash=ani_hash(normalized),
            status="open",
            assurance_level=OPENING_LEVEL,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        ),
    )
    return public_view(call, decision, now)


def read_call_session(
    session: Session, policy: PolicyEngine, principal: Principal, session_id: str
) -> CallSessionPublic:
    """One session, for the agent who opened it only; anyone else gets the unknown-id 403."""
    call = repository.get_call_session(session, session_id)
    domain = call.subsidiary if call is not None else principal.subsidiary
    decision = policy.decide(
        principal.subject,
        domain,
        RESOURCE,
        "read",
        DECISION_LEVEL,
        facts={
            "call_session_exists": call is not None,
            "call_session_owner": call is not None and call.agent == principal.subject,
        },
    )
    _audit(session, principal, decision, "read", session_id)
    if not decision.allowed or call is None:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    now = utcnow()
    if call.status == "open" and as_utc(call.expires_at) <= now:
        call.status = "expired"
        repository.save_call_session(session, call)
    return public_view(call, decision, now)
