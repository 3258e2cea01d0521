"""Voiceprint rules: consented enrollment, verification with the watchlist, deletion.

Order of work in each operation, and why:

1. the recordings are checked (413/422) and must hold real speech, before
   anything is decided, stored or embedded;
2. the call session is the agent's own and usable (`calls.service.authorize`),
   the voiceprint factor is not locked, and the policy decides on the
   customer's voiceprint (audited, 403 before any write);
3. the customer's separate biometric consent is asked of the consent service,
   on enrollment and again on every verification; no consent is a 403 (the
   denial is audited);
4. embedding runs in a worker thread (the model is CPU-bound);
5. the result is written in the request's transaction: the encrypted
   enrollment, or the factor attempt that moves the session's level, and, on a
   watchlist hit, an audit event of kind `fraud.watchlist_hit` that the audit
   service raises an alert on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlmodel import Session

from anxin_identity.calls import service as calls
from anxin_identity.calls.models import CallSession
from anxin_identity.settings import IdentitySettings
from anxin_identity.voice import repository
from anxin_identity.voice.audio import Audio, decode_wav
from anxin_identity.voice.crypto import EmbeddingCipher
from anxin_identity.voice.engine import SpeakerEngine, centroid, cosine, embed_all
from anxin_identity.voice.models import VoiceDeletion, VoiceEnrollment, VoiceWatchlistEntry
from anxin_identity.voice.schemas import (
    ConsentEventsAccepted,
    ConsentWithdrawnEvent,
    EnrollmentPublic,
    VerificationPublic,
    WatchlistEntryPublic,
    WatchlistPublic,
)
from anxin_identity.voice.speech import check_speech
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.consent import ConsentClient
from anxin_shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "customer.voiceprint"
WATCHLIST_RESOURCE = "fraud.watchlist"
FACTOR = "voiceprint"
# The consent a voiceprint needs: separate biometric consent, for verification, group-wide.
CONSENT_PURPOSE = "identity_verification"
CONSENT_CATEGORY = "spi.biometric.voiceprint"
CONSENT_RECIPIENT = "group"
WATCHLIST_HIT = "fraud.watchlist_hit"
DELETED = "biometric.deleted"


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """An opaque id in the gateway's id alphabet."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


@dataclass(frozen=True)
class VoiceContext:
    """What every voiceprint operation needs besides the request's session."""

    settings: IdentitySettings
    policy: PolicyEngine
    engine: SpeakerEngine
    cipher: EmbeddingCipher


def _aad(table: str, row_id: str, owner: str) -> str:
    return f"{table}:{row_id}:{owner}"


def decode_recordings(settings: IdentitySettings, uploads: list[bytes], what: str) -> list[Audio]:
    """Decode and check every upload (413/422 with the upload's position)."""
    return [
        decode_wav(
            data,
            name=f"{what} {index}" if len(uploads) > 1 else what,
            max_bytes=settings.voice_max_audio_bytes,
            min_seconds=settings.voice_min_audio_seconds,
            max_seconds=settings.voice_max_audio_seconds,
        )
        for index, data in enumerate(uploads, start=1)
    ]


def _require_speech(settings: IdentitySettings, recordings: list[Audio], what: str) -> None:
    for index, audio in enumerate(recordings, start=1):
        check = check_speech(audio.samples, settings.voice_min_speech_seconds)
        if not check.sufficient:
            raise ValidationFailed(
                f"{what} {index} holds too little speech: {check.reason}",
                reason="insufficient_audio",
            )


def _count(settings: IdentitySettings, uploads: list[bytes]) -> None:
    low, high = settings.voice_min_enrollment_utterances, settings.voice_max_enrollment_utterances
    if not low <= len(uploads) <= high:
        raise ValidationFailed(f"enrollment takes {low} to {high} utterances, got {len(uploads)}")


def _audit(
    session: Session,
    principal: Principal,
    decision: Decision | None,
    action: str,
    resource: str,
    *,
    call_session: str | None = None,
    customer_ref: str | None = None,
    **extra: Any,
) -> None:
    actor = replace(principal, call_session=call_session) if call_session else principal
    reasons = extra.pop("reasons", None)
    event = decision_event(
        "identity",
        actor,
        decision,
        action=action,
        resource=resource,
        customer_ref=customer_ref,
        **extra,
    )
    if reasons:  # an event without a policy decision says why it happened
        event["reasons"] = [str(reason)[:200] for reason in reasons][:16]
    enqueue(session, AUDIT_TOPIC, event)


def _level_for(principal: Principal, call: CallSession) -> str:
    """The token's level counts only for the customer this session verified."""
    if call.customer_id is not None and principal.verified_customer == call.customer_id:
        return principal.assurance_level
    return "L0"


def _decide_on_customer(
    session: Session,
    context: VoiceContext,
    principal: Principal,
    call: CallSession,
    action: str,
    facts: dict[str, bool] | None = None,
    **audit_extra: Any,
) -> Decision:
    decision = context.policy.decide(
        principal.subject, call.subsidiary, RESOURCE, action, _level_for(principal, call), facts
    )
    _audit(
        session,
        principal,
        decision,
        action,
        RESOURCE,
        call_session=call.id,
        customer_ref=call.customer_id,
        **audit_extra,
    )
    if not decision.allowed:
        detail = "; ".join(decision.reasons) or "no access to this customer's voiceprint"
        raise Forbidden(detail, decision_id=decision.decision_id, failed_fact=decision.failed_fact)
    return decision


def _linked_call(
    session: Session, context: VoiceContext, principal: Principal, session_id: str
) -> CallSession:
    call, _ = calls.authorize(session, context.policy, principal, session_id, "verify")
    if call.customer_id is None:
        raise Conflict("link the caller to a customer first")
    return call


async def enroll(
    session: Session,
    context: VoiceContext,
    consent: ConsentClient,
    principal: Principal,
    session_id: str,
    uploads: list[bytes],
) -> EnrollmentPublic:
    """Enroll the session's customer from several utterances, with biometric consent only."""
    settings = context.settings
    _count(settings, uploads)
    recordings = decode_recordings(settings, uploads, "utterance")
    _require_speech(settings, recordings, "utterance")
    call = _linked_call(session, context, principal, session_id)
    assert call.customer_id is not None
    answer = await consent.check(
        call.customer_id, CONSENT_PURPOSE, CONSENT_CATEGORY, CONSENT_RECIPIENT
    )
    decision = _decide_on_customer(
        session,
        context,
        principal,
        call,
        "create",
        facts={"biometric_consent": answer.allowed},
        consent_id=answer.consent_id,
    )
    embeddings = await embed_all(context.engine, [audio.samples for audio in recordings])
    voiceprint = centroid(embeddings)
    previous = repository.enrollment_of(session, call.customer_id)
    if previous is not None:  # re-enrollment replaces the old voiceprint
        repository.delete_enrollment(session, previous)
    enrollment_id = new_id("vp")
    enrollment = repository.add_enrollment(
        session,
        VoiceEnrollment(
            id=enrollment_id,
            customer_id=call.customer_id,
            subsidiary=call.subsidiary,
            engine=context.engine.name,
            key_id=context.cipher.key_id,
            embedding=context.cipher.seal(
                voiceprint, _aad("voice_enrollment", enrollment_id, call.customer_id)
            ),
            utterances=len(recordings),
            consent_id=answer.consent_id,
            enrolled_by=principal.subject,
            call_session_id=call.id,
            created_at=utcnow(),
        ),
    )
    return EnrollmentPublic(
        enrollment_id=enrollment.id,
        customer_id=enrollment.customer_id,
        utterances=enrollment.utterances,
        engine=enrollment.engine,
        consent_id=enrollment.consent_id,
        enrolled_at=enrollment.created_at,
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def _stored(context: VoiceContext, enrollment: VoiceEnrollment) -> np.ndarray:
    if enrollment.engine != context.engine.name:
        raise Conflict("the voiceprint was enrolled with another engine; enroll again")
    return context.cipher.open(
        enrollment.embedding, _aad("voice_enrollment", enrollment.id, enrollment.customer_id)
    )


def _watchlist_best(
    context: VoiceContext, session: Session, embedding: np.ndarray
) -> tuple[VoiceWatchlistEntry | None, float]:
    best: VoiceWatchlistEntry | None = None
    best_score = -1.0
    for entry in repository.watchlist(session):
        if entry.engine != context.engine.name:
            continue
        stored = context.cipher.open(
            entry.embedding, _aad("voice_watchlist_entry", entry.id, "watchlist")
        )
        score = cosine(embedding, stored)
        if score > best_score:
            best, best_score = entry, score
    return best, best_score


async def verify(
    session: Session,
    context: VoiceContext,
    consent: ConsentClient,
    principal: Principal,
    session_id: str,
    upload: bytes,
) -> VerificationPublic:
    """Compare the caller's voice with the customer's voiceprint and the fraud watchlist.

    The biometric consent is asked again: a withdrawal takes effect at once, while
    the event that deletes the voiceprint may still be on its way.
    """
    settings = context.settings
    (audio,) = decode_recordings(settings, [upload], "audio")
    call = _linked_call(session, context, principal, session_id)
    calls.check_factor_open(session, call, FACTOR)
    assert call.customer_id is not None
    enrollment = repository.enrollment_of(session, call.customer_id)
    if enrollment is None:
        raise Conflict("this customer has no voiceprint enrolled")
    answer = await consent.check(
        call.customer_id, CONSENT_PURPOSE, CONSENT_CATEGORY, CONSENT_RECIPIENT
    )
    decision = _decide_on_customer(
        session,
        context,
        principal,
        call,
        "verify",
        facts={"biometric_consent": answer.allowed},
        consent_id=answer.consent_id,
    )
    threshold = settings.voice_match_threshold
    speech = check_speech(audio.samples, settings.voice_min_speech_seconds)
    if not speech.sufficient:
        # No evidence either way: no factor attempt, no score (the model would invent one).
        return VerificationPublic(
            result="insufficient_audio",
            score=None,
            threshold=threshold,
            speech_seconds=round(speech.speech_seconds, 2),
            watchlist_hit=False,
            reason=speech.reason,
            assurance_level=call.assurance_level,
            decision_id=decision.decision_id,
            policy_version=decision.policy_version,
        )
    enrolled = _stored(context, enrollment)
    (embedding,) = await embed_all(context.engine, [audio.samples])
    score = cosine(embedding, enrolled)
    entry, watch_score = _watchlist_best(context, session, embedding)
    hit = entry is not None and watch_score >= settings.voice_watchlist_threshold
    matched = score >= threshold
    detail: dict[str, Any] = {"score": round(score, 4), "watchlist_hit": hit}
    if hit and entry is not None:
        detail["watchlist_entry"] = entry.id
        calls.report_fraud_signal(session, call.customer_id, "voiceprint_watchlist", call.id)
        _audit(
            session,
            principal,
            None,
            "verify",
            WATCHLIST_RESOURCE,
            call_session=call.id,
            customer_ref=call.customer_id,
            allowed=False,
            kind=WATCHLIST_HIT,
            reasons=[
                f"caller's voice matches watchlist entry {entry.id} ({entry.label})",
                f"score {watch_score:.3f} >= {settings.voice_watchlist_threshold:.2f}",
            ],
        )
    # A watchlist hit never raises the level, whatever the match against the customer.
    public = calls.record_factor(
        session,
        call.id,
        principal.subject,
        FACTOR,
        matched and not hit,
        detail,
        item=enrollment.id,
        decision=decision,
    )
    if hit:
        reason = "the voice matches a known fraudster's voiceprint"
    elif matched:
        reason = "the voice matches the enrolled voiceprint"
    else:
        reason = "the voice does not match the enrolled voiceprint"
    return VerificationPublic(
        result="match" if matched else "mismatch",
        score=round(score, 4),
        threshold=threshold,
        speech_seconds=round(speech.speech_seconds, 2),
        watchlist_hit=hit,
        reason=reason,
        assurance_level=public.assurance_level,
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


# ----------------------------------------------------------------------------- watchlist


def _decide_watchlist(
    session: Session, context: VoiceContext, principal: Principal, action: str
) -> Decision:
    decision = context.policy.decide(
        principal.subject, principal.subsidiary or "group", WATCHLIST_RESOURCE, action, "L0"
    )
    _audit(session, principal, decision, action, WATCHLIST_RESOURCE)
    if not decision.allowed:
        raise Forbidden("no access to the voiceprint watchlist", decision_id=decision.decision_id)
    return decision


def _entry_public(entry: VoiceWatchlistEntry) -> WatchlistEntryPublic:
    return WatchlistEntryPublic(
        id=entry.id,
        label=entry.label,
        utterances=entry.utterances,
        engine=entry.engine,
        added_by=entry.added_by,
        created_at=entry.created_at,
    )


async def add_to_watchlist(
    session: Session, context: VoiceContext, principal: Principal, label: str, uploads: list[bytes]
) -> WatchlistEntryPublic:
    """Put a known fraudster's voice on the watchlist (security staff only)."""
    settings = context.settings
    if not 1 <= len(uploads) <= settings.voice_max_enrollment_utterances:
        raise ValidationFailed(
            f"a watchlist entry takes 1 to {settings.voice_max_enrollment_utterances} recordings"
        )
    recordings = decode_recordings(settings, uploads, "utterance")
    _require_speech(settings, recordings, "utterance")
    _decide_watchlist(session, context, principal, "create")
    embeddings = await embed_all(context.engine, [audio.samples for audio in recordings])
    entry_id = new_id("vw")
    entry = repository.add_watch_entry(
        session,
        VoiceWatchlistEntry(
            id=entry_id,
            label=label,
            engine=context.engine.name,
            key_id=context.cipher.key_id,
            embedding=context.cipher.seal(
                centroid(embeddings), _aad("voice_watchlist_entry", entry_id, "watchlist")
            ),
            utterances=len(recordings),
            added_by=principal.subject,
            created_at=utcnow(),
        ),
    )
    return _entry_public(entry)


def list_watchlist(
    session: Session, context: VoiceContext, principal: Principal
) -> WatchlistPublic:
    """The watchlist's entries (labels and dates, never embeddings)."""
    decision = _decide_watchlist(session, context, principal, "read")
    return WatchlistPublic(
        items=[_entry_public(entry) for entry in repository.watchlist(session)],
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def remove_from_watchlist(
    session: Session, context: VoiceContext, principal: Principal, entry_id: str
) -> None:
    """Take an entry off the watchlist."""
    _decide_watchlist(session, context, principal, "delete")
    entry = repository.get_watch_entry(session, entry_id)
    if entry is None:
        raise NotFound("no such watchlist entry")
    repository.delete_watch_entry(session, entry)


# ----------------------------------------------------------------------------- withdrawal


def _withdraws_voiceprint(event: ConsentWithdrawnEvent) -> bool:
    return event.category == CONSENT_CATEGORY and event.purpose == CONSENT_PURPOSE


def record_withdrawals(
    session: Session, publisher: Principal, events: list[ConsentWithdrawnEvent]
) -> ConsentEventsAccepted:
    """Delete the voiceprint of each customer whose biometric consent was withdrawn.

    Idempotent by event id: a redelivered event is counted as a duplicate and
    changes nothing. Each processed voiceprint event leaves a `voice_deletion`
    row (with `enrollment_id` None when there was nothing to delete) and an
    audit event; events about other consents are acknowledged and ignored.
    """
    accepted = duplicates = deleted = 0
    seen: set[str] = set()
    now = utcnow()
    for event in events:
        if event.event_id in seen or repository.get_deletion(session, event.event_id):
            duplicates += 1
            continue
        seen.add(event.event_id)
        accepted += 1
        if not _withdraws_voiceprint(event):
            continue
        enrollment = repository.enrollment_of(session, event.customer_id)
        if enrollment is not None:
            repository.delete_enrollment(session, enrollment)
            deleted += 1
        repository.add_deletion(
            session,
            VoiceDeletion(
                event_id=event.event_id,
                customer_id=event.customer_id,
                consent_id=event.consent_id,
                reason="consent.withdrawn",
                enrollment_id=enrollment.id if enrollment is not None else None,
                withdrawn_at=event.withdrawn_at,
                deleted_at=now,
            ),
        )
        _audit(
            session,
            publisher,
            None,
            "delete",
            RESOURCE,
            customer_ref=event.customer_id,
            allowed=True,
            kind=DELETED,
            consent_id=event.consent_id,
            reasons=[
                "biometric consent withdrawn: voiceprint deleted"
                if enrollment is not None
                else "biometric consent withdrawn: no voiceprint was enrolled"
            ],
        )
    return ConsentEventsAccepted(accepted=accepted, duplicates=duplicates, deleted=deleted)
