"""Consent notices: versions with their text hash; drafting, publishing, retiring, listing.

A version's content is fixed when it is drafted: there is no edit, only a new
version. Publishing makes a version something a customer can agree to;
retiring stops new consents on it (consents already given stay on record and
run until their retention ends).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlmodel import Session

from anxin_consent.notices import repository
from anxin_consent.notices.models import ConsentNotice
from anxin_consent.notices.schemas import (
    ConsentNoticeChange,
    ConsentNoticeCreate,
    ConsentNoticePage,
    ConsentNoticePublic,
)
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "consent.notice"
DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"
# Notices are group-wide documents: their lifecycle is decided in the group domain.
NOTICE_DOMAIN = "group"


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def text_hash(text_zh: str) -> str:
    """SHA-256 hex of the notice text (UTF-8): what a consent record pins."""
    return hashlib.sha256(text_zh.encode("utf-8")).hexdigest()


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as UTC; SQLite hands timezone-aware columns back naive."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def published_notice(create: ConsentNoticeCreate, published_at: datetime) -> ConsentNotice:
    """A published notice version built from its definition, with the hash of its text."""
    return ConsentNotice(
        **create.model_dump(),
        text_hash=text_hash(create.text_zh),
        status=PUBLISHED,
        published_at=published_at,
    )


def public_view(notice: ConsentNotice) -> ConsentNoticePublic:
    """A notice as the API returns it."""
    return ConsentNoticePublic.model_validate(
        {
            **notice.model_dump(),
            "published_at": as_utc(notice.published_at),
            "retired_at": as_utc(notice.retired_at),
        }
    )


def _decide(
    session: Session, policy: PolicyEngine, principal: Principal, action: str, domain: str
) -> Decision:
    """Decide and audit one notice operation; a denial raises before anything is written."""
    decision = policy.decide(principal.subject, domain, RESOURCE, action, "L0")
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event("consent", principal, decision, action=action, resource=RESOURCE),
    )
    if not decision.allowed:
        raise Forbidden(f"you may not {action} consent notices", decision_id=decision.decision_id)
    return decision


def list_published(
    session: Session, policy: PolicyEngine, principal: Principal, limit: int, offset: int
) -> ConsentNoticePage:
    """Published notices, if policy lets this principal read notices in its subsidiary."""
    decision = policy.decide(principal.subject, principal.subsidiary, RESOURCE, "read", "L0")
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event("consent", principal, decision, action="list", resource=RESOURCE),
    )
    if not decision.allowed:
        raise Forbidden("you may not read consent notices", decision_id=decision.decision_id)
    notices = repository.list_notices(session, PUBLISHED, limit, offset)
    return ConsentNoticePage(
        items=[public_view(notice) for notice in notices],
        total=repository.count_notices(session, PUBLISHED),
        limit=limit,
        offset=offset,
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def _change(notice: ConsentNotice, decision: Decision) -> ConsentNoticeChange:
    return ConsentNoticeChange(
        notice=public_view(notice),
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def create_draft(
    session: Session, policy: PolicyEngine, principal: Principal, create: ConsentNoticeCreate
) -> ConsentNoticeChange:
    """A new draft version; its categories must be classifications of the data dictionary."""
    decision = _decide(session, policy, principal, "create", NOTICE_DOMAIN)
    unknown = sorted(set(create.categories) - set(policy.state.classifications))
    if unknown:
        raise ValidationFailed(f"categories not in policies/fields.yaml: {', '.join(unknown)}")
    if repository.get_notice(session, create.notice_key, create.version) is not None:
        raise Conflict("this notice version exists already; versions are never edited")
    notice = repository.add_notice(
        session,
        ConsentNotice(
            **create.model_dump(),
            text_hash=text_hash(create.text_zh),
            status=DRAFT,
            created_by=principal.subject,
        ),
    )
    return _change(notice, decision)


def _existing(session: Session, notice_key: str, version: int) -> ConsentNotice:
    notice = repository.get_notice(session, notice_key, version)
    if notice is None:
        raise NotFound("no such notice version")
    return notice


def read_version(
    session: Session, policy: PolicyEngine, principal: Principal, notice_key: str, version: int
) -> ConsentNoticeChange:
    """One version in any status (staff reviewing drafts, agents reading a text)."""
    decision = _decide(session, policy, principal, "read", principal.subsidiary or NOTICE_DOMAIN)
    return _change(_existing(session, notice_key, version), decision)


def publish(
    session: Session, policy: PolicyEngine, principal: Principal, notice_key: str, version: int
) -> ConsentNoticeChange:
    """Draft → published: from now on customers may agree to exactly this text."""
    decision = _decide(session, policy, principal, "publish", NOTICE_DOMAIN)
    notice = _existing(session, notice_key, version)
    if notice.status != DRAFT:
        raise Conflict(f"only a draft can be published; this version is {notice.status}")
    if text_hash(notice.text_zh) != notice.text_hash:
        raise Conflict("the stored text does not match its hash")
    notice.status = PUBLISHED
    notice.published_at = utcnow()
    return _change(repository.save_notice(session, notice), decision)


def retire(
    session: Session, policy: PolicyEngine, principal: Principal, notice_key: str, version: int
) -> ConsentNoticeChange:
    """Published → retired: no new consents; the ones given stay valid until they expire."""
    decision = _decide(session, policy, principal, "retire", NOTICE_DOMAIN)
    notice = _existing(session, notice_key, version)
    if notice.status != PUBLISHED:
        raise Conflict(f"only a published version can be retired; this one is {notice.status}")
    notice.status = RETIRED
    notice.retired_at = utcnow()
    return _change(repository.save_notice(session, notice), decision)
