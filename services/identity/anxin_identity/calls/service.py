"""Call sessions: opened by an agent, bound to that agent, verified factor by factor.

The caller's number (ANI) is normalized, keyed-hashed (HMAC, a per-deployment
key) and masked here, and the raw value goes no further: not into the
database, the audit event, a log line or the response.

A session of another agent and a session that does not exist get the same 403,
so the answer never reveals whether an id exists. An expired or closed session
is a 409 problem for its own agent.

The assurance level is never set directly: every factor attempt is recorded
(`record_factor`) and the level is recomputed from the successful attempts for
the linked customer with `policies/assurance.yaml`, capped by risk signals.
Each change bumps the session's `version`, which the gateway's cache keys on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from anxin_identity.calls import repository
from anxin_identity.calls.assurance import (
    FACTORS,
    AssurancePolicy,
    current_fingerprint,
    current_policy,
)
from anxin_identity.calls.models import CallAniWatchlist, CallFactorAttempt, CallSession
from anxin_identity.calls.profile import Match, ProfileClient
from anxin_identity.calls.schemas import (
    ANI_PATTERN,
    CallSessionCreate,
    CallSessionPublic,
    FactorResult,
    FactorStatus,
    KnowledgeAnswer,
    KnowledgeQuestionList,
    RiskReason,
    SessionChanges,
    SessionResolution,
)
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Conflict, Forbidden, RateLimited, ValidationFailed
from anxin_shared.masking import mask_mobile
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import ASSURANCE_LEVELS, Principal

RESOURCE = "call.session"
FRAUD_SIGNAL_TOPIC = "identity.fraud_signal"
NO_ACCESS = "no access to this call session"
# Call-session operations are decided at L0: a level belongs to a verified session,
# and opening or reading one comes before any verification.
DECISION_LEVEL = "L0"
OPENING_LEVEL = "L0"
FRICTIONLESS = ("registered_ani", "known_device")
_COUNTRY_PREFIXED_MOBILE = re.compile(r"(?:\+|00)?86(1[3-9][0-9]{9})")
_ANI = re.compile(ANI_PATTERN)


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


def ani_hash(ani: str, key: str) -> str:
    """HMAC-SHA-256 (per-deployment key) of the normalized number: its only stored form."""
    return hmac.new(
        key.encode("utf-8"), normalize_ani(ani).encode("ascii"), hashlib.sha256
    ).hexdigest()


def new_session_id() -> str:
    """An opaque, unguessable session id in the gateway's id alphabet [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(16)


def session_status(call: CallSession, now: datetime) -> str:
    """open, closed or expired (an open session past its expiry is expired)."""
    if call.status == "open" and as_utc(call.expires_at) <= now:
        return "expired"
    return call.status


def _customers(text: str) -> list[str]:
    value = json.loads(text or "[]")
    return [str(item) for item in value] if isinstance(value, list) else []


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluation:
    """What the attempts of a session add up to, under one assurance policy."""

    level: str
    factors: list[FactorStatus]
    risk_score: int
    risk_reasons: list[RiskReason]


def _watchlist_hit(attempt: CallFactorAttempt) -> bool:
    if attempt.factor != "voiceprint" or not attempt.detail:
        return False
    try:
        detail = json.loads(attempt.detail)
    except ValueError:
        return False
    return isinstance(detail, dict) and bool(detail.get("watchlist_hit"))


def _lock_state(
    session: Session,
    call: CallSession,
    attempts: list[CallFactorAttempt],
    factor: str,
    policy: AssurancePolicy,
    now: datetime,
) -> datetime | None:
    """Until when `factor` is locked in this session (per session or per customer), or None."""
    since = now - timedelta(seconds=policy.window_seconds)
    window = timedelta(seconds=policy.window_seconds)
    session_failures = [
        as_utc(a.created_at)
        for a in attempts
        if a.factor == factor and not a.success and as_utc(a.created_at) >= since
    ]
    customer_failures: list[datetime] = []
    if call.customer_id is not None:
        customer_failures = [
            as_utc(moment)
            for moment in repository.failures_of_customer(session, call.customer_id, factor, since)
        ]
    until: datetime | None = None
    for failures in (session_failures, customer_failures):
        if len(failures) >= policy.max_failures:
            # Locked until the failure that made the count N leaves the window.
            moment = sorted(failures)[-policy.max_failures] + window
            until = moment if until is None else max(until, moment)
    return until


def evaluate(
    session: Session, call: CallSession, policy: AssurancePolicy, now: datetime
) -> Evaluation:
    """The level, factor states and risk of a session, from its recorded attempts."""
    attempts = repository.attempts_of_session(session, call.id)
    mine = [a for a in attempts if a.customer_id == call.customer_id]
    satisfied: set[str] = set()
    factors: list[FactorStatus] = []
    for factor in FACTORS:
        if factor not in policy.min_successes:
            continue
        items = {a.item or f"attempt-{a.id}" for a in mine if a.factor == factor and a.success}
        failures = sum(1 for a in attempts if a.factor == factor and not a.success)
        holds = len(items) >= policy.min_successes[factor]
        if holds:
            satisfied.add(factor)
        locked_until = (
            None
            if factor in FRICTIONLESS
            else _lock_state(session, call, attempts, factor, policy, now)
        )
        factors.append(
            FactorStatus(
                factor=factor,
                satisfied=holds,
                successes=len(items),
                required=policy.min_successes[factor],
                failures=failures,
                locked=locked_until is not None,
                locked_until=locked_until,
            )
        )
    signals: list[str] = []
    if call.attestation == "B":
        signals.append("attestation_b")
    if call.attestation in (None, "C"):
        signals.append("attestation_c")
    if call.ani_watchlisted:
        signals.append("ani_watchlist")
    many = policy.risk.get("ani_many_customers")
    if many is not None and len(_customers(call.ani_customers)) >= many.threshold:
        signals.append("ani_many_customers")
    repeated = policy.risk.get("repeated_failures")
    failures_total = sum(1 for a in attempts if not a.success)
    if repeated is not None and failures_total >= repeated.threshold:
        signals.append("repeated_failures")
    if any(_watchlist_hit(a) for a in attempts):
        signals.append("voiceprint_watchlist_hit")
    reasons = [
        RiskReason(
            signal=name, weight=policy.risk[name].weight, reason_zh=policy.risk[name].reason_zh
        )
        for name in signals
        if name in policy.risk
    ]
    caps = [policy.risk[name].max_level for name in signals if name in policy.risk]
    level = (
        policy.level_for(satisfied, [cap for cap in caps if cap is not None])
        if call.customer_id is not None
        else "L0"
    )
    return Evaluation(
        level=level,
        factors=factors,
        risk_score=min(100, sum(reason.weight for reason in reasons)),
        risk_reasons=reasons,
    )


def public_view(
    call: CallSession, evaluation: Evaluation, now: datetime, decision: Decision | None = None
) -> CallSessionPublic:
    """The session as its agent sees it: masked number, level, factors, risk with reasons."""
    return CallSessionPublic.model_validate(
        {
            "id": call.id,
            "direction": call.direction,
            "channel": call.channel,
            "attestation": call.attestation,
            "ani_masked": call.ani_masked,
            "status": session_status(call, now),
            "assurance_level": call.assurance_level,
            "customer_id": call.customer_id,
            "link_source": call.link_source,
            "candidate_count": len(_customers(call.ani_customers)),
            "factors": evaluation.factors,
            "risk_score": evaluation.risk_score,
            "risk_reasons": evaluation.risk_reasons,
            "version": call.version,
            "created_at": as_utc(call.created_at),
            "expires_at": as_utc(call.expires_at),
            "closed_at": as_utc(call.closed_at) if call.closed_at else None,
            "decision_id": decision.decision_id if decision else None,
            "policy_version": decision.policy_version if decision else None,
        }
    )


def refresh_level(
    session: Session, call: CallSession, policy: AssurancePolicy, now: datetime
) -> Evaluation:
    """Recompute the level from the attempts, store it and bump the version."""
    evaluation = evaluate(session, call, policy, now)
    call.assurance_level = evaluation.level
    call.version += 1
    repository.save_call_session(session, call)
    return evaluation


def report_fraud_signal(
    session: Session, customer_id: str, signal: str, call_session_id: str | None
) -> None:
    """Tell profile (by the outbox) to alert the customer: one event, one fraud alert."""
    enqueue(
        session,
        FRAUD_SIGNAL_TOPIC,
        {
            "customer_id": customer_id,
            "signal": signal,
            "call_session": call_session_id,
            "occurred_at": utcnow().isoformat(),
        },
    )


# --------------------------------------------------------------------------- access


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


def ensure_usable(call: CallSession, now: datetime) -> None:
    """A problem (409) for a closed or expired session; nothing is changed."""
    status = session_status(call, now)
    if status == "expired":
        raise Conflict("this call session has expired; open a new one", call_status="expired")
    if status == "closed":
        raise Conflict("this call session is closed; open a new one", call_status="closed")


def get_owned_session(
    session: Session,
    call_session_id: str,
    agent: str,
    *,
    decision_id: str | None = None,
    allow_ended: bool = False,
) -> CallSession:
    """The agent's own usable session.

    Another agent's session and an unknown id raise the same 403; an expired or
    closed session raises a 409 problem (unless `allow_ended`). Pass the
    decision id of the caller's policy decision so the 403 names it.
    """
    call = repository.get_call_session(session, call_session_id)
    if call is None or call.agent != agent:
        raise Forbidden(NO_ACCESS, decision_id=decision_id or uuid.uuid4().hex)
    if not allow_ended:
        ensure_usable(call, utcnow())
    return call


def authorize(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    action: str,
    *,
    allow_ended: bool = False,
) -> tuple[CallSession, Decision]:
    """Decide `action` on one session for this principal (owner only), audit, then load it."""
    call = repository.get_call_session(session, session_id)
    domain = call.subsidiary if call is not None else principal.subsidiary
    decision = policy.decide(
        principal.subject,
        domain,
        RESOURCE,
        action,
        DECISION_LEVEL,
        facts={
            "call_session_exists": call is not None,
            "call_session_owner": call is not None and call.agent == principal.subject,
        },
    )
    _audit(session, principal, decision, action, session_id)
    if not decision.allowed or call is None:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    owned = get_owned_session(
        session,
        session_id,
        principal.subject,
        decision_id=decision.decision_id,
        allow_ended=allow_ended,
    )
    return owned, decision


# --------------------------------------------------------------------------- factors


def _check_throttle(
    session: Session, call: CallSession, policy: AssurancePolicy, now: datetime
) -> None:
    since = now - timedelta(seconds=policy.throttle_window_seconds)
    if repository.count_attempts_since(session, call.id, since) >= policy.max_attempts_per_session:
        raise RateLimited(policy.throttle_window_seconds)


def check_factor_open(
    session: Session,
    call: CallSession,
    factor: str,
    policy: AssurancePolicy | None = None,
    now: datetime | None = None,
) -> AssurancePolicy:
    """Raise unless `factor` may be attempted now (known, customer linked, not locked/flooded)."""
    policy = policy or current_policy()
    now = now or utcnow()
    if factor not in FACTORS or factor not in policy.min_successes:
        raise ValidationFailed("unknown verification factor")
    if call.customer_id is None:
        raise Conflict("link the caller to a customer before verifying a factor")
    _check_throttle(session, call, policy, now)
    attempts = repository.attempts_of_session(session, call.id)
    locked_until = _lock_state(session, call, attempts, factor, policy, now)
    if locked_until is not None:
        raise Conflict(
            f"the {factor} factor is locked after {policy.max_failures} failures",
            factor=factor,
            locked_until=locked_until.isoformat(),
        )
    return policy


def record_factor(
    session: Session,
    call_session_id: str,
    agent: str,
    factor: str,
    success: bool,
    detail: dict[str, Any] | None = None,
    *,
    item: str | None = None,
    decision: Decision | None = None,
    policy: AssurancePolicy | None = None,
) -> CallSessionPublic:
    """Record one attempt at `factor` in the agent's own session and recompute its level.

    Honours lockouts and flood limits (a locked factor is a 409, a flood a 429,
    and nothing is recorded then). `item` names what was attempted inside the
    factor (a question id, a code id): successes count once per distinct item.
    `detail` must hold no PII; a voiceprint attempt may carry
    `{"watchlist_hit": true, "score": ...}`, which raises a risk signal that
    caps the level. The voiceprint factor alone reaches no level (see
    `policies/assurance.yaml`).
    """
    now = utcnow()
    call = get_owned_session(
        session, call_session_id, agent, decision_id=decision.decision_id if decision else None
    )
    policy = check_factor_open(session, call, factor, policy, now)
    assert call.customer_id is not None
    repository.add_attempt(
        session,
        CallFactorAttempt(
            call_session_id=call.id,
            customer_id=call.customer_id,
            agent=agent,
            factor=factor,
            item=item,
            success=success,
            detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
            created_at=now,
        ),
    )
    if not success and _lock_state(
        session, call, repository.attempts_of_session(session, call.id), factor, policy, now
    ):
        # This failure locked the factor: later attempts are refused before they count.
        report_fraud_signal(session, call.customer_id, "verification_lockout", call.id)
    evaluation = refresh_level(session, call, policy, now)
    return public_view(call, evaluation, now, decision)


def _record_frictionless(session: Session, call: CallSession, now: datetime) -> None:
    """System-observed factors of the linked customer: registered ANI with A, known device."""
    if call.customer_id is None:
        return
    observed = {
        "registered_ani": call.attestation == "A"
        and call.customer_id in _customers(call.ani_customers),
        "known_device": call.customer_id in _customers(call.device_customers),
    }
    for factor, holds in observed.items():
        if holds:
            repository.add_attempt(
                session,
                CallFactorAttempt(
                    call_session_id=call.id,
                    customer_id=call.customer_id,
                    agent=call.agent,
                    factor=factor,
                    item=None,
                    success=True,
                    detail=None,
                    created_at=now,
                ),
            )


# ------------------------------------------------------------------- open, read, link, close


def open_call_session(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    create: CallSessionCreate,
    ttl_seconds: int,
    *,
    hash_key: str,
    ani_matches: list[Match] | None = None,
    device_matches: list[Match] | None = None,
    decision: Decision | None = None,
) -> CallSessionPublic:
    """Open a session bound to this agent, linking the customer the ANI or device names.

    `ani_matches` / `device_matches` are profile's matches for the caller's
    number and device. Only customers of the agent's subsidiary are linked: a
    single one is linked at once, several leave the session unlinked until the
    caller gives an identifier. Every match counts for the many-customers risk.
    """
    if decision is None:
        decision = decide_open(session, policy, principal)
    assurance = current_policy()
    now = utcnow()
    since = now - timedelta(seconds=assurance.throttle_window_seconds)
    if (
        repository.count_sessions_opened_since(session, principal.subject, since)
        >= assurance.max_sessions_per_agent
    ):
        raise RateLimited(assurance.throttle_window_seconds)
    session_id = new_session_id()
    _audit(session, principal, decision, "create", session_id)
    normalized = normalize_ani(create.ani)
    hashed = ani_hash(normalized, hash_key)
    by_ani = sorted({m.customer_id for m in ani_matches or []})
    by_device = sorted({m.customer_id for m in device_matches or []})
    candidates = sorted(
        {
            m.customer_id
            for m in [*(ani_matches or []), *(device_matches or [])]
            if m.subsidiary == principal.subsidiary
        }
    )
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
            ani_hash=hashed,
            status="open",
            assurance_level=OPENING_LEVEL,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
            ani_customers=json.dumps(by_ani),
            device_customers=json.dumps(by_device),
            ani_watchlisted=repository.ani_watchlisted(session, hashed),
        ),
    )
    if create.customer_id is not None:
        call.customer_id, call.link_source = create.customer_id, "identifier"
    elif len(candidates) == 1:
        call.customer_id = candidates[0]
        call.link_source = "ani" if candidates[0] in by_ani else "device"
    _record_frictionless(session, call, now)
    if create.attestation == "C":
        # An unattested call from a customer's registered number: the number may be spoofed.
        for customer_id in by_ani:
            report_fraud_signal(session, customer_id, "spoofed_ani", session_id)
    evaluation = refresh_level(session, call, assurance, now)
    return public_view(call, evaluation, now, decision)


async def open_with_profile(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    create: CallSessionCreate,
    ttl_seconds: int,
    *,
    hash_key: str,
    profile: ProfileClient,
) -> CallSessionPublic:
    """Decide, ask profile who the number/device/identifier belongs to, then open."""
    decision = decide_open(session, policy, principal)
    ani_matches = await profile.match_number(normalize_ani(create.ani))
    device_matches = await profile.match_device(create.device_id) if create.device_id else []
    if create.customer_id is not None:
        subsidiary = await profile.customer_subsidiary(create.customer_id)
        if subsidiary != principal.subsidiary:
            raise ValidationFailed("no such customer")
    return open_call_session(
        session,
        policy,
        principal,
        create,
        ttl_seconds,
        hash_key=hash_key,
        ani_matches=ani_matches,
        device_matches=device_matches,
        decision=decision,
    )


async def link_with_profile(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    customer_id: str,
    profile: ProfileClient,
) -> CallSessionPublic:
    """Link the customer the caller names, if profile knows them in the agent's subsidiary."""
    call, decision = authorize(session, policy, principal, session_id, "update")
    subsidiary = await profile.customer_subsidiary(customer_id)
    return link_customer(session, call, decision, customer_id, subsidiary == principal.subsidiary)


async def knowledge_questions(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    profile: ProfileClient,
) -> KnowledgeQuestionList:
    """The linked customer's questions, for the agent to read out (never the answers)."""
    call, _ = authorize(session, policy, principal, session_id, "verify")
    if call.customer_id is None:
        raise Conflict("link the caller to a customer before verifying a factor")
    questions = await profile.questions(call.customer_id)
    return KnowledgeQuestionList.model_validate({"questions": questions})


async def answer_question(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    answer: KnowledgeAnswer,
    profile: ProfileClient,
) -> FactorResult:
    """Have profile compare the caller's answer; record the attempt; recompute the level."""
    call, decision = authorize(session, policy, principal, session_id, "verify")
    check_factor_open(session, call, "knowledge")
    assert call.customer_id is not None
    correct = await profile.check(call.customer_id, answer.question_id, answer.answer)
    view = record_factor(
        session,
        session_id,
        principal.subject,
        "knowledge",
        correct,
        item=answer.question_id,
        decision=decision,
    )
    return FactorResult(factor="knowledge", correct=correct, session=view)


def decide_open(session: Session, policy: PolicyEngine, principal: Principal) -> Decision:
    """The policy decision to open a session (audited now if it is a denial)."""
    decision = policy.decide(
        principal.subject, principal.subsidiary, RESOURCE, "create", DECISION_LEVEL
    )
    if not decision.allowed:
        _audit(session, principal, decision, "create", None)
        raise Forbidden("you may not open a call session", decision_id=decision.decision_id)
    return decision


def read_call_session(
    session: Session, policy: PolicyEngine, principal: Principal, session_id: str
) -> CallSessionPublic:
    """One session, for the agent who opened it only; anyone else gets the unknown-id 403."""
    call, decision = authorize(session, policy, principal, session_id, "read", allow_ended=True)
    now = utcnow()
    if call.status == "open" and as_utc(call.expires_at) <= now:
        call.status = "expired"
        call.version += 1
        repository.save_call_session(session, call)
    return public_view(call, evaluate(session, call, current_policy(), now), now, decision)


def link_customer(
    session: Session,
    call: CallSession,
    decision: Decision,
    customer_id: str,
    customer_exists: bool,
) -> CallSessionPublic:
    """Link the customer the caller names (an identifier they give); levels restart from it.

    Factors succeed per customer, so a relinked session keeps nothing from the
    previous customer; the registered-ANI and known-device factors hold only if
    the profile matched this customer.
    """
    if not customer_exists:
        raise ValidationFailed("no such customer")
    now = utcnow()
    call.customer_id, call.link_source = customer_id, "identifier"
    already = {
        a.factor
        for a in repository.attempts_of_session(session, call.id)
        if a.customer_id == customer_id and a.success and a.factor in FRICTIONLESS
    }
    if not already:
        _record_frictionless(session, call, now)
    evaluation = refresh_level(session, call, current_policy(), now)
    return public_view(call, evaluation, now, decision)


def close_call_session(
    session: Session, policy: PolicyEngine, principal: Principal, session_id: str
) -> CallSessionPublic:
    """Close the agent's own session: from now on it lends no level to any request."""
    call, decision = authorize(session, policy, principal, session_id, "update")
    now = utcnow()
    call.status, call.closed_at = "closed", now
    call.version += 1
    repository.save_call_session(session, call)
    return public_view(call, evaluate(session, call, current_policy(), now), now, decision)


# --------------------------------------------------------------------------- ANI watchlist


def load_ani_watchlist(session: Session, lines: list[str], hash_key: str) -> int:
    """Add the numbers of a watchlist file (keyed hashes only); return how many lines were bad.

    A bad line is reported by its count, never by its content (it may be a number).
    """
    bad = 0
    now = utcnow()
    for raw in lines:
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        number, _, label = (part.strip() for part in text.partition(","))
        if not _ANI.fullmatch(number):
            bad += 1
            continue
        repository.add_ani_watch(
            session,
            CallAniWatchlist(
                ani_hash=ani_hash(number, hash_key),
                label=(label or "watchlist")[:64],
                added_at=now,
            ),
        )
    return bad


# --------------------------------------------------------------------------- gateway resolution


def resolve_for_gateway(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    session_id: str,
    known_version: int | None,
) -> SessionResolution:
    """What the gateway puts in the internal token for a request naming this session.

    The agent's own open session yields its level and verified customer. Anything
    else is `usable: false` with a reason (`no_access` for another agent's or an
    unknown session, `expired`, `closed`) and the gateway refuses the request.
    An unchanged `known_version` is answered without the level (the gateway's
    cache still holds it); time-based expiry is checked first, so it is exact.
    `change_seq` is read first: the answer reflects at least every change up to it.
    """
    change_seq = repository.last_change(session)
    rules = rules_fingerprint(policy)  # before deciding and evaluating: never newer than them
    call = repository.get_call_session(session, session_id)
    domain = call.subsidiary if call is not None else principal.subsidiary
    decision = policy.decide(
        principal.subject,
        domain,
        RESOURCE,
        "verify",
        DECISION_LEVEL,
        facts={
            "call_session_exists": call is not None,
            "call_session_owner": call is not None and call.agent == principal.subject,
        },
    )
    if not decision.allowed or call is None:
        # A use of someone else's (or no) session is audited; routine uses are
        # audited by the gateway with the request itself.
        _audit(session, principal, decision, "verify", session_id)
        return SessionResolution(
            usable=False,
            reason="no_access",
            call_session=session_id,
            decision_id=decision.decision_id,
        )
    now = utcnow()
    status = session_status(call, now)
    if status != "open":
        return SessionResolution(
            usable=False,
            reason="expired" if status == "expired" else "closed",
            call_session=session_id,
            version=call.version,
            decision_id=decision.decision_id,
        )
    # The level follows the assurance policy in force: an edit of assurance.yaml that
    # changes it moves the version, so no gateway keeps serving the old level.
    current = evaluate(session, call, current_policy(), now).level
    if current != call.assurance_level:
        call.assurance_level = current
        call.version += 1
        repository.save_call_session(session, call)
    if known_version is not None and known_version == call.version:
        return SessionResolution(
            usable=True,
            reason="unchanged",
            call_session=session_id,
            version=call.version,
            expires_at=as_utc(call.expires_at),
            decision_id=decision.decision_id,
            change_seq=change_seq,
            fingerprint=rules,
        )
    level = call.assurance_level if call.assurance_level in ASSURANCE_LEVELS else "L0"
    return SessionResolution(
        usable=True,
        reason="ok",
        call_session=session_id,
        version=call.version,
        assurance_level=level,
        verified_customer=call.customer_id if level != "L0" else None,
        expires_at=as_utc(call.expires_at),
        decision_id=decision.decision_id,
        change_seq=change_seq,
        fingerprint=rules,
    )


def rules_fingerprint(policy: PolicyEngine) -> str:
    """The access policy's version and the assurance policy's hash: what levels follow."""
    return f"{policy.version}:{current_fingerprint()}"


def session_changes(session: Session, policy: PolicyEngine, after: int | None) -> SessionChanges:
    """The call sessions changed after `after` (and recently), for the gateway's leases.

    Without `after` (a gateway starting to follow) only the newest sequence number."""
    if after is None:
        return SessionChanges(
            seq=repository.last_change(session),
            changes=[],
            complete=True,
            fingerprint=rules_fingerprint(policy),
        )
    rows, complete = repository.changes_after(session, after, utcnow())
    return SessionChanges(
        seq=max([after, *(number for number, _ in rows)]),
        changes=rows,
        complete=complete,
        fingerprint=rules_fingerprint(policy),
    )
