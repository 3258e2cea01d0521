"""One-time codes: issued per session, sent by SMS through the outbox, single-use, expiring.

The code is never stored. It is derived from the code's random id with the
deployment's OTP key (HMAC), and only a keyed hash of it is kept; the outbox
event names the code id, and the relay derives the code again just before the
SMS adapter sends it. Someone holding the database alone learns nothing.
A used code is refused (replay), an expired one too; a wrong one is a failed
`otp` attempt that counts towards the factor's lockout.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from anxin_identity.calls import repository, service
from anxin_identity.calls.models import CallOneTimeCode
from anxin_identity.calls.schemas import CodeSent, FactorResult
from anxin_identity.sms.gateway import SmsGateway
from anxin_shared.errors import Conflict, DependencyUnavailable, RateLimited
from anxin_shared.outbox import enqueue
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

logger = logging.getLogger("anxin.identity.codes")

SMS_TOPIC = "identity.sms"
SMS_TEXT = "【安信】您的验证码为{code}，{minutes}分钟内有效。请勿告知他人，客服不会索要验证码。"


def derive_code(key: str, code_id: str, digits: int) -> str:
    """The code of `code_id` (HMAC-derived, uniformly distributed digits)."""
    digest = hmac.new(key.encode(), f"code:{code_id}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**digits).zfill(digits)


def code_hash(key: str, code_id: str, code: str) -> str:
    """The keyed hash stored for a code."""
    return hmac.new(key.encode(), f"hash:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    *,
    key: str,
    digits: int,
    ttl_seconds: int,
    sms_enabled: bool = True,
) -> CodeSent:
    """Issue a code for the linked customer and queue its SMS (the code is never returned)."""
    call, decision = service.authorize(session, policy, principal, session_id, "verify")
    if not sms_enabled:
        raise DependencyUnavailable("no SMS gateway is configured for one-time codes")
    now = service.utcnow()
    assurance = service.check_factor_open(session, call, "otp")
    since = now - timedelta(seconds=assurance.throttle_window_seconds)
    if repository.count_codes_since(session, call.id, since) >= assurance.max_codes_per_session:
        raise RateLimited(assurance.throttle_window_seconds)
    assert call.customer_id is not None
    code_id = secrets.token_urlsafe(16)
    code = derive_code(key, code_id, digits)
    expires_at = now + timedelta(seconds=ttl_seconds)
    repository.add_code(
        session,
        CallOneTimeCode(
            id=code_id,
            call_session_id=call.id,
            customer_id=call.customer_id,
            code_hash=code_hash(key, code_id, code),
            created_at=now,
            expires_at=expires_at,
        ),
    )
    enqueue(
        session,
        SMS_TOPIC,
        {
            "code_id": code_id,
            "customer_id": call.customer_id,
            "call_session": call.id,
            "expires_at": expires_at.isoformat(),
        },
    )
    evaluation = service.evaluate(session, call, assurance, now)
    return CodeSent(
        code_id=code_id,
        expires_at=expires_at,
        session=service.public_view(call, evaluation, now, decision),
    )


def verify_code(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    entered: str,
    *,
    key: str,
) -> FactorResult:
    """Check the code the caller reads back against the session's newest code.

    A used code (replay) or an expired one is a 409 and changes nothing; a
    wrong code is a recorded failure; the right one is used up and recorded.
    """
    call, decision = service.authorize(session, policy, principal, session_id, "verify")
    service.check_factor_open(session, call, "otp")
    code = repository.latest_code(session, call.id)
    now = service.utcnow()
    if code is None or code.customer_id != call.customer_id:
        raise Conflict("no code was sent to this caller in this call")
    if code.used_at is not None:
        raise Conflict("this code was already used; send a new one", reason="code_used")
    if service.as_utc(code.expires_at) <= now:
        raise Conflict("this code has expired; send a new one", reason="code_expired")
    correct = hmac.compare_digest(code.code_hash, code_hash(key, code.id, entered))
    if correct and not repository.use_code(session, code.id, now):
        raise Conflict("this code was already used; send a new one", reason="code_used")
    view = service.record_factor(
        session,
        call.id,
        principal.subject,
        "otp",
        correct,
        item=code.id,
        decision=decision,
    )
    return FactorResult(factor="otp", correct=correct, session=view)


def sms_sender(
    gateway: SmsGateway,
    key: str,
    digits: int,
    destination: Callable[[str], Awaitable[str]],
    fallback: Callable[[str, list[dict[str, Any]]], Awaitable[None]],
) -> Callable[[str, list[dict[str, Any]]], Awaitable[None]]:
    """The outbox sender: SMS events go to the adapter, every other topic to `fallback`."""

    async def send(topic: str, events: list[dict[str, Any]]) -> None:
        if topic != SMS_TOPIC:
            await fallback(topic, events)
            return
        for event in events:
            expires_at = datetime.fromisoformat(str(event["expires_at"]))
            remaining = (expires_at - service.utcnow()).total_seconds()
            if remaining <= 0:
                logger.info("one-time code %s expired before it was sent", event["code_id"])
                continue
            mobile = await destination(str(event["customer_id"]))
            text = SMS_TEXT.format(
                code=derive_code(key, str(event["code_id"]), digits),
                minutes=max(1, round(remaining / 60)),
            )
            await gateway.send(mobile, text, str(event["code_id"]))

    return send
