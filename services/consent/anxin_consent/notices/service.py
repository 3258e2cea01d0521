"""Consent notices: building versions with their text hash, and listing published ones."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlmodel import Session

from anxin_consent.notices import repository
from anxin_consent.notices.models import ConsentNotice
from anxin_consent.notices.schemas import (
    ConsentNoticeCreate,
    ConsentNoticePage,
    ConsentNoticePublic,
)
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Forbidden
from anxin_shared.outbox import enqueue
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "consent.notice"
PUBLISHED = "published"


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
        }
    )


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
