"""Consent records: grants, withdrawals, expiry, the current state and the customer's copy.

Rules that make a record provable and lawful:

* A grant references one *published* notice version and pins the hash of its
  text; its scope (purpose, category, recipient) must be one the notice covers.
* Biometric categories (`spi.biometric.*`) and provision to another subsidiary
  (PIPL Art. 23, 29) each need a separate-consent notice dedicated to that one
  category or that one recipient; a bundled or general notice never carries them.
* On a call, the agent may record only for the customer the call session
  verified, and the call session and recording reference come from the call.
  Other channels are recorded by the subsidiary system that collected them.
* History is append-only. A withdrawal (or an expiry) is a new record that ends
  the grant from now on; what was processed before it stays lawful on record.
  Each withdrawal leaves a `consent.withdrawn` event in the outbox, in the same
  transaction, for identity (voiceprints) and profile (sharing).
* A customer of another subsidiary and one that does not exist get the same 403.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from anxin_consent.notices import repository as notices
from anxin_consent.notices.models import ConsentNotice
from anxin_consent.notices.schemas import is_biometric
from anxin_consent.notices.service import PUBLISHED, as_utc, text_hash
from anxin_consent.records import repository
from anxin_consent.records.models import ConsentRecord
from anxin_consent.records.schemas import (
    ConsentGrantCreate,
    ConsentRecordChange,
    ConsentRecordPublic,
    ConsentState,
    ConsentStatePage,
    ConsentWithdrawalCreate,
    CustomerConsentExport,
    ExportedRecord,
    NoticeText,
)
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Conflict, Forbidden, ValidationFailed
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "consent.record"
WITHDRAWN_TOPIC = "consent.withdrawn"
NO_ACCESS = "no access to this customer's consents"
# The group's own customer-service center processes for every subsidiary; any
# other recipient than the customer's own subsidiary is another legal entity.
GROUP = "group"
SYSTEM = Principal(subject="service:consent", kind="service", subsidiary=GROUP)


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def new_record_id() -> str:
    """An opaque record id in the gateway's id alphabet."""
    return uuid.uuid4().hex


def assurance_for(principal: Principal, customer_id: str) -> str:
    """The call's assurance counts only for the customer the session verified."""
    if principal.verified_customer == customer_id:
        return principal.assurance_level
    return "L0"


def needs_separate_consent(category: str, recipient: str, customer_subsidiary: str) -> bool:
    """Biometrics and provision to another subsidiary need their own separate consent."""
    return is_biometric(category) or recipient not in (customer_subsidiary, GROUP)


def channel_facts(principal: Principal, customer_id: str, channel: str) -> dict[str, bool]:
    """Who may record on which channel: an agent on a verified call, or a collecting system."""
    if channel == "call":
        return {
            "verified_call": principal.kind == "user"
            and bool(principal.call_session)
            and principal.verified_customer == customer_id
        }
    return {"collecting_system": principal.kind == "client"}


def public_record(record: ConsentRecord) -> ConsentRecordPublic:
    """A record as the API returns it."""
    assert record.seq is not None
    return ConsentRecordPublic.model_validate(
        {
            **record.model_dump(),
            "seq": record.seq,
            "recorded_at": as_utc(record.recorded_at),
            "expires_at": as_utc(record.expires_at),
        }
    )


def _authorize(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    action: str,
    customer_id: str,
    domain: str | None,
    facts: dict[str, bool],
    consent_id: str | None = None,
) -> Decision:
    """Decide and audit one object-level operation; a denial raises before any write."""
    decision = policy.decide(
        principal.subject,
        domain or principal.subsidiary or "-",
        RESOURCE,
        action,
        assurance_for(principal, customer_id),
        facts=facts,
    )
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event(
            "consent",
            principal,
            decision,
            action=action,
            resource=RESOURCE,
            customer_ref=customer_id,
            consent_id=consent_id if decision.allowed else None,
        ),
    )
    if not decision.allowed:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    return decision


def _published_notice(session: Session, create: ConsentGrantCreate) -> ConsentNotice:
    notice = notices.get_notice(session, create.notice_key, create.notice_version)
    if notice is None:
        raise ValidationFailed("unknown notice or notice version")
    if notice.status != PUBLISHED:
        raise ValidationFailed(f"this notice version is {notice.status}, not published")
    if create.category not in notice.categories:
        raise ValidationFailed("the notice does not cover this data category")
    if create.recipient not in notice.recipients:
        raise ValidationFailed("the notice does not name this recipient")
    if text_hash(notice.text_zh) != notice.text_hash:
        raise Conflict("the notice text does not match its pinned hash")
    return notice


def _evidence(
    principal: Principal, body: ConsentGrantCreate | ConsentWithdrawalCreate
) -> dict[str, Any]:
    call = body.channel == "call"
    return {
        "channel": body.channel,
        "recording_hash": body.recording_hash,
        "recording_ref": f"call-recording:{principal.call_session}" if call else None,
        "call_session": principal.call_session if call else None,
        "evidence_ref": body.evidence_ref,
        "operator": principal.subject,
        "operator_kind": principal.kind,
    }


def grant(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    create: ConsentGrantCreate,
    customer_subsidiary: str | None,
) -> ConsentRecordChange:
    """Record a customer's consent to one scope of one published notice version."""
    notice = _published_notice(session, create)
    record_id = new_record_id()
    facts = {
        "customer_exists": customer_subsidiary is not None,
        **channel_facts(principal, create.customer_id, create.channel),
    }
    decision = _authorize(
        session,
        policy,
        principal,
        "create",
        create.customer_id,
        customer_subsidiary,
        facts,
        record_id,
    )
    assert customer_subsidiary is not None and notice.id is not None
    if needs_separate_consent(create.category, create.recipient, customer_subsidiary):
        dedicated = (
            notice.categories == [create.category]
            if is_biometric(create.category)
            else notice.recipients == [create.recipient]
        )
        if not (notice.separate_consent and dedicated):
            raise ValidationFailed(
                "biometric data and provision to another subsidiary each need their own "
                "separate-consent notice; this notice is a bundled or general one"
            )
    now = utcnow()
    record = repository.add_record(
        session,
        ConsentRecord(
            record_id=record_id,
            customer_id=create.customer_id,
            customer_subsidiary=customer_subsidiary,
            action="grant",
            purpose=notice.purpose_code,
            category=create.category,
            recipient=create.recipient,
            notice_id=notice.id,
            notice_key=notice.notice_key,
            notice_version=notice.version,
            notice_text_hash=notice.text_hash,
            separate_consent=notice.separate_consent,
            assurance_level=decision.assurance_level,
            decision_id=decision.decision_id,
            recorded_at=now,
            expires_at=now + timedelta(days=notice.retention_days),
            **_evidence(principal, create),
        ),
    )
    return ConsentRecordChange(
        record=public_record(record),
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def _ending_record(
    granted: ConsentRecord, action: str, record_id: str, now: datetime, **evidence: object
) -> ConsentRecord:
    return ConsentRecord(
        record_id=record_id,
        customer_id=granted.customer_id,
        customer_subsidiary=granted.customer_subsidiary,
        action=action,
        purpose=granted.purpose,
        category=granted.category,
        recipient=granted.recipient,
        notice_id=granted.notice_id,
        notice_key=granted.notice_key,
        notice_version=granted.notice_version,
        notice_text_hash=granted.notice_text_hash,
        separate_consent=granted.separate_consent,
        recorded_at=now,
        ends_record_id=granted.record_id,
        **evidence,  # type: ignore[arg-type]
    )


def _announce_withdrawal(session: Session, granted: ConsentRecord, at: datetime) -> None:
    enqueue(
        session,
        WITHDRAWN_TOPIC,
        {
            "event_id": uuid.uuid4().hex,
            "customer_id": granted.customer_id,
            "purpose": granted.purpose,
            "category": granted.category,
            "recipient": granted.recipient,
            "consent_id": granted.record_id,
            "withdrawn_at": at.isoformat(),
        },
    )


def withdraw(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    body: ConsentWithdrawalCreate,
    customer_subsidiary: str | None,
) -> ConsentRecordChange:
    """End the consent that holds for one scope, at once, and tell identity and profile.

    The decision is taken in the customer's subsidiary (as the profile service knows it)
    before anything about the scope is read, so a caller outside that subsidiary learns
    neither whether the customer exists nor whether a consent holds: the same 403.
    """
    record_id = new_record_id()
    facts = {
        "customer_exists": customer_subsidiary is not None,
        **channel_facts(principal, body.customer_id, body.channel),
    }
    decision = _authorize(
        session,
        policy,
        principal,
        "withdraw",
        body.customer_id,
        customer_subsidiary,
        facts,
        record_id,
    )
    latest = repository.latest_for_scope(
        session, body.customer_id, body.purpose, body.category, body.recipient
    )
    now = utcnow()
    if latest is None or latest.action != "grant":
        raise Conflict("no consent holds for this scope, so there is nothing to withdraw")
    expires_at = as_utc(latest.expires_at)
    if expires_at is not None and expires_at <= now:
        raise Conflict("this consent has expired already, so there is nothing to withdraw")
    try:
        record = repository.add_record(
            session,
            _ending_record(
                latest,
                "withdraw",
                record_id,
                now,
                assurance_level=decision.assurance_level,
                decision_id=decision.decision_id,
                **_evidence(principal, body),
            ),
        )
    except IntegrityError as exc:  # another withdrawal (or the expiry) ended it just now
        raise Conflict("this consent was ended a moment ago; nothing to withdraw") from exc
    _announce_withdrawal(session, latest, now)
    return ConsentRecordChange(
        record=public_record(record),
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def expire_due(session: Session, now: datetime | None = None, limit: int = 500) -> int:
    """Close the grants whose notice's retention ended: an `expire` record and an event each."""
    now = now or utcnow()
    due = repository.due_to_expire(session, now, limit)
    for granted in due:
        expired_at = as_utc(granted.expires_at) or now
        record = repository.add_record(
            session,
            _ending_record(
                granted,
                "expire",
                new_record_id(),
                now,
                channel="system",
                operator=SYSTEM.subject,
                operator_kind=SYSTEM.kind,
                assurance_level="L0",
            ),
        )
        _announce_withdrawal(session, granted, expired_at)
        enqueue(
            session,
            AUDIT_TOPIC,
            decision_event(
                "consent",
                SYSTEM,
                None,
                action="expire",
                resource=RESOURCE,
                allowed=True,
                customer_ref=granted.customer_id,
                consent_id=record.record_id,
            ),
        )
    return len(due)


def current_states(records: list[ConsentRecord], now: datetime) -> list[ConsentState]:
    """The latest record of every scope, as granted, withdrawn or expired."""
    latest: dict[tuple[str, str, str], ConsentRecord] = {}
    for record in records:
        latest[(record.purpose, record.category, record.recipient)] = record
    states = []
    for (purpose, category, recipient), record in sorted(latest.items()):
        expires_at = as_utc(record.expires_at)
        if record.action == "grant":
            status = "granted" if expires_at is None or expires_at > now else "expired"
        else:
            status = "withdrawn" if record.action == "withdraw" else "expired"
        since = as_utc(record.recorded_at)
        assert since is not None
        states.append(
            ConsentState(
                purpose=purpose,
                category=category,
                recipient=recipient,
                status=status,  # type: ignore[arg-type]
                record_id=record.record_id,
                notice_key=record.notice_key,
                notice_version=record.notice_version,
                since=since,
                expires_at=expires_at if record.action == "grant" else None,
            )
        )
    return states


def current(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    customer_subsidiary: str | None,
) -> ConsentStatePage:
    """What holds now for each scope of one customer."""
    decision = _authorize(
        session,
        policy,
        principal,
        "read",
        customer_id,
        customer_subsidiary,
        {"customer_exists": customer_subsidiary is not None},
    )
    return ConsentStatePage(
        customer_id=customer_id,
        items=current_states(repository.history(session, customer_id), utcnow()),
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def export(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    customer_subsidiary: str | None,
) -> CustomerConsentExport:
    """The customer's copy: every record with the exact notice text, hash re-verified."""
    decision = _authorize(
        session,
        policy,
        principal,
        "export",
        customer_id,
        customer_subsidiary,
        {"customer_exists": customer_subsidiary is not None},
    )
    records = repository.history(session, customer_id)
    texts = notices.get_notices(session, {record.notice_id for record in records})
    exported = []
    for record in records:
        notice = texts[record.notice_id]
        verified = text_hash(notice.text_zh) == notice.text_hash == record.notice_text_hash
        exported.append(
            ExportedRecord(
                **public_record(record).model_dump(),
                notice=NoticeText(
                    notice_key=notice.notice_key,
                    version=notice.version,
                    purpose=notice.purpose,
                    text_zh=notice.text_zh,
                    text_hash=notice.text_hash,
                    hash_verified=verified,
                ),
            )
        )
    now = utcnow()
    return CustomerConsentExport(
        customer_id=customer_id,
        exported_at=now,
        records=exported,
        current=current_states(records, now),
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


ACTION_ZH = {"grant": "同意", "withdraw": "撤回", "expire": "到期失效"}
CHANNEL_ZH = {
    "call": "电话",
    "app": "手机应用",
    "counter": "柜面",
    "ivr": "语音按键",
    "system": "系统",
}
CSV_COLUMNS: tuple[tuple[str, Callable[[ExportedRecord], object]], ...] = (
    ("序号 seq", lambda r: r.seq),
    ("记录编号 record_id", lambda r: r.record_id),
    ("操作 action", lambda r: f"{ACTION_ZH[r.action]} {r.action}"),
    ("时间 recorded_at (UTC)", lambda r: r.recorded_at.isoformat()),
    ("处理目的 purpose", lambda r: r.purpose),
    ("信息种类 category", lambda r: r.category),
    ("接收方 recipient", lambda r: r.recipient),
    ("告知书 notice", lambda r: f"{r.notice_key} v{r.notice_version}"),
    ("告知书哈希 notice_text_hash", lambda r: r.notice_text_hash),
    (
        "哈希核验 hash_verified",
        lambda r: "一致 ok" if r.notice.hash_verified else "不一致 MISMATCH",
    ),
    ("渠道 channel", lambda r: f"{CHANNEL_ZH.get(r.channel, r.channel)} {r.channel}"),
    ("录音 recording_ref", lambda r: r.recording_ref or ""),
    ("录音哈希 recording_hash", lambda r: r.recording_hash or ""),
    ("通话 call_session", lambda r: r.call_session or ""),
    ("凭证 evidence_ref", lambda r: r.evidence_ref or ""),
    ("经办 operator", lambda r: r.operator),
    ("有效期至 expires_at", lambda r: r.expires_at.isoformat() if r.expires_at else ""),
    ("终止的记录 ends_record_id", lambda r: r.ends_record_id or ""),
    ("告知书全文 notice_text", lambda r: r.notice.text_zh),
)


def export_csv(copy: CustomerConsentExport) -> str:
    """The customer's copy as a CSV a spreadsheet opens readably (UTF-8 with BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for title, _ in CSV_COLUMNS])
    for record in copy.records:
        writer.writerow([value(record) for _, value in CSV_COLUMNS])
    return "\ufeff" + buffer.getvalue()
