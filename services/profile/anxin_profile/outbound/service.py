"""Outbound contact by reference.

A campaign list shows masked numbers only (the `fields.yaml` mask, whatever the
caller's view). Each entry carries a short-lived, single-use dial reference; only
its SHA-256 is stored. Only a role policy allows on `customer.dial_reference`
(the telephony platform) can resolve one, once, before it expires; every
resolution is audited, and an unknown, spent, expired or forbidden reference
gets the same 403.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from anxin_profile.access import audit
from anxin_profile.clock import as_utc
from anxin_profile.customers import repository as customers
from anxin_profile.disclosure import at_most_masked, render_as, view_for
from anxin_profile.outbound import repository
from anxin_profile.outbound.models import CallList, DialReference
from anxin_profile.outbound.schemas import (
    CallListCreate,
    CallListEntry,
    CallListPublic,
    DialResolution,
)
from anxin_shared.errors import Forbidden
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

LISTS = "customer.outbound"
DIAL = "customer.dial_reference"
NO_REFERENCE = "no such dial reference"


def ref_hash(ref: str) -> str:
    """The stored form of a dial reference."""
    return hashlib.sha256(ref.encode()).hexdigest()


def create_list(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    body: CallListCreate,
    now: datetime,
    lifetime_seconds: int,
) -> CallListPublic:
    """A call list of the caller's subsidiary with masked numbers and dial references."""
    subsidiary = principal.subsidiary
    decision = policy.decide(
        principal.subject, subsidiary, LISTS, "create", "L0", with_field_views=True
    )
    audit(session, principal, decision, "create", LISTS, None)
    if not decision.allowed:
        raise Forbidden("may not create call lists here", decision_id=decision.decision_id)
    fields = policy.state.fields
    call_list = CallList(
        list_id=uuid.uuid4().hex,
        name=body.name,
        subsidiary=subsidiary,
        created_by=principal.subject,
        created_at=now,
    )
    entries: list[CallListEntry] = []
    expires = now + timedelta(seconds=lifetime_seconds)
    name_view = at_most_masked(view_for(fields, decision.field_views, "customer.name"))
    targets = customers.segment_page(
        session, subsidiary, body.value_tier, body.lifecycle_stage, body.limit
    )
    for customer in targets:
        ref = secrets.token_urlsafe(24)
        session.add(
            DialReference(
                ref_hash=ref_hash(ref),
                list_id=call_list.list_id,
                customer_id=customer.customer_id,
                subsidiary=customer.subsidiary,
                created_by=principal.subject,
                created_at=now,
                expires_at=expires,
            )
        )
        entries.append(
            CallListEntry(
                customer_id=customer.customer_id,
                name=render_as(fields, "customer.name", customer.name, name_view),
                mobile=render_as(fields, "customer.mobile", customer.mobile, "masked"),
                dial_ref=ref,
                expires_at=expires,
            )
        )
    call_list.size = len(entries)
    session.add(call_list)
    session.flush()
    return CallListPublic(
        list_id=call_list.list_id,
        name=call_list.name,
        subsidiary=subsidiary,
        entries=entries,
        decision_id=decision.decision_id,
    )


def resolve(
    session: Session, policy: PolicyEngine, principal: Principal, ref: str, now: datetime
) -> DialResolution:
    """The number behind a reference, once, for the telephony platform; always audited."""
    reference = repository.get_reference(session, ref_hash(ref))
    customer = customers.get_customer(session, reference.customer_id) if reference else None
    domain = reference.subsidiary if reference else "-"
    usable = (
        reference is not None
        and customer is not None
        and customer.record_status == "active"
        and reference.used_at is None
        and as_utc(reference.expires_at) > now
    )
    decision = policy.decide(
        principal.subject, domain, DIAL, "read", "L0", facts={"reference_usable": usable}
    )
    audit(
        session,
        principal,
        decision,
        "resolve",
        DIAL,
        reference.customer_id if reference else None,
    )
    if not decision.allowed or reference is None or customer is None:
        raise Forbidden(NO_REFERENCE, decision_id=decision.decision_id)
    reference.used_at, reference.used_by = now, principal.subject
    session.add(reference)
    session.flush()
    return DialResolution(
        number=f"+86{customer.mobile}", customer_id=customer.customer_id, list_id=reference.list_id
    )
