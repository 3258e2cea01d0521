"""The customer's rights under PIPL: a copy of the data, corrections, deletion.

* Export: the customer in the call at a high assurance level gets a copy of its
  data, disclosed as policy lets the operator hand it over; recorded and audited.
* Correction: the agent files the customer's request (validated like any update:
  422 listing every bad field); the back office approves (applied, validated again)
  or rejects it, with a reason either way.
* Deletion: decided at once. Data the law requires to be kept (an insurance policy
  or bank account that is still open: insurance and anti-money-laundering record
  keeping) stays, with that reason recorded; everything not so required (notes,
  preferences, devices, e-mail, addresses) is deleted. Without such a duty the
  record is erased (personal fields overwritten, contact points deleted).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session

from anxin_profile.access import authorize
from anxin_profile.customers import repository as customers
from anxin_profile.customers.models import Customer
from anxin_profile.customers.service import apply_changes, check_changes
from anxin_profile.disclosure import render
from anxin_profile.portrait import service as portraits
from anxin_profile.rights import repository
from anxin_profile.rights.models import RightsRequest
from anxin_profile.rights.schemas import (
    CorrectionCreate,
    CustomerExport,
    DeletionCreate,
    RequestDecision,
    RightsRequestPublic,
)
from anxin_shared.errors import Conflict, Forbidden
from anxin_shared.masking import mask_free_text
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

RESOURCE = "customer.rights"
PROFILE = "customer.profile"
NO_REQUEST = "no access to this request"
RETENTION_BASIS = (
    "legal retention: an open insurance policy or bank account must be kept for the contract "
    "and {years} years after it ends (insurance and anti-money-laundering record keeping)"
)


def public(request: RightsRequest, views: dict[str, str], fields: dict) -> RightsRequestPublic:
    """A request with its proposed value masked as policy says for that field."""
    proposed = None
    if request.proposed_value is not None and request.field:
        proposed = render(fields, views, f"customer.{request.field}", request.proposed_value)
    return RightsRequestPublic(
        request_id=request.request_id,
        customer_id=request.customer_id,
        kind=request.kind,
        status=request.status,
        field=request.field,
        proposed_value=proposed,
        reason=request.reason,
        outcome_reason=request.outcome_reason,
        retention_until=request.retention_until,
        requested_by=request.requested_by,
        decided_by=request.decided_by,
        created_at=request.created_at,
        decided_at=request.decided_at,
    )


def _record(
    session: Session,
    customer: Customer,
    principal: Principal,
    kind: str,
    reason: str,
    now: datetime,
    **values: object,
) -> RightsRequest:
    request = RightsRequest(
        request_id=uuid.uuid4().hex,
        customer_id=customer.customer_id,
        subsidiary=customer.subsidiary,
        kind=kind,
        reason=mask_free_text(reason),
        requested_by=principal.subject,
        created_at=now,
        **values,  # type: ignore[arg-type]
    )
    session.add(request)
    session.flush()
    return request


def export(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str, now: datetime
) -> CustomerExport:
    """A copy of the customer's data (recorded as a completed export request)."""
    access = authorize(session, policy, principal, customer_id, PROFILE, "export")
    copy = portraits.portrait(session, policy, principal, customer_id)
    request = _record(
        session,
        access.customer,
        principal,
        "export",
        "data subject access request",
        now,
        status="completed",
        decided_by=principal.subject,
        decided_at=now,
        outcome_reason="copy handed over in the call",
    )
    views = dict(access.decision.field_views)
    return CustomerExport(
        request_id=request.request_id,
        generated_at=now,
        portrait=copy,
        rights_requests=[
            public(r, views, policy.state.fields)
            for r in repository.requests_for(session, customer_id)
        ],
    )


def request_correction(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    body: CorrectionCreate,
    now: datetime,
) -> RightsRequestPublic:
    """File a correction request (validated now, applied when approved)."""
    access = authorize(session, policy, principal, customer_id, RESOURCE, "create")
    check_changes(access.customer, {body.field: body.new_value}, now.date())
    request = _record(
        session,
        access.customer,
        principal,
        "correction",
        body.reason,
        now,
        status="pending",
        field=body.field,
        proposed_value=body.new_value,
    )
    return public(request, dict(access.decision.field_views), policy.state.fields)


def decide_request(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    request_id: str,
    body: RequestDecision,
    now: datetime,
) -> RightsRequestPublic:
    """Approve (apply) or reject a pending correction, with a reason."""
    request = repository.get_request(session, request_id)
    customer_id = request.customer_id if request else "-"
    try:
        access = authorize(
            session, policy, principal, customer_id, RESOURCE, "update", only_in_call=False
        )
    except Forbidden as denied:
        raise Forbidden(NO_REQUEST, decision_id=denied.decision_id) from None
    assert request is not None
    if request.status != "pending" or request.kind != "correction":
        raise Conflict("this request has already been decided")
    if body.approve and request.field and request.proposed_value is not None:
        apply_changes(session, access.customer, {request.field: request.proposed_value}, now)
        request.status = "completed"
    else:
        request.status = "rejected"
    request.outcome_reason = mask_free_text(body.reason)
    request.decided_by, request.decided_at = principal.subject, now
    session.add(request)
    session.flush()
    return public(request, dict(access.decision.field_views), policy.state.fields)


def request_deletion(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    body: DeletionCreate,
    now: datetime,
    retention_years: int,
) -> RightsRequestPublic:
    """Delete what the law does not require us to keep; record why anything stays."""
    access = authorize(session, policy, principal, customer_id, RESOURCE, "create")
    customer = access.customer
    open_holdings = [
        h for h in customers.holdings_for(session, customer_id) if h.status != "closed"
    ]
    if open_holdings:
        repository.delete_optional_data(session, customer_id, keep_registered=True)
        customer.email, customer.notes = None, None
        session.add(customer)
        kinds = ", ".join(sorted({h.kind for h in open_holdings}))
        request = _record(
            session,
            customer,
            principal,
            "deletion",
            body.reason,
            now,
            status="retained",
            decided_by=principal.subject,
            decided_at=now,
            outcome_reason=RETENTION_BASIS.format(years=retention_years) + f" [{kinds}]; "
            "notes, preferences, devices and e-mail deleted",
        )
    else:
        repository.delete_optional_data(session, customer_id, keep_registered=False)
        customer.name = "已删除"
        customer.id_number = f"ERASED-{customer.customer_id}"
        customer.mobile = "0"
        customer.email = customer.address = customer.postcode = None
        customer.bank_account = customer.policy_number = customer.notes = None
        customer.record_status, customer.status_reason = "erased", "PIPL deletion request"
        session.add(customer)
        request = _record(
            session,
            customer,
            principal,
            "deletion",
            body.reason,
            now,
            status="completed",
            decided_by=principal.subject,
            decided_at=now,
            outcome_reason="no legal retention duty: personal data erased",
        )
    return public(request, dict(access.decision.field_views), policy.state.fields)


def list_requests(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str
) -> list[RightsRequestPublic]:
    """A customer's rights requests (the customer in the call, or with wider access)."""
    access = authorize(session, policy, principal, customer_id, RESOURCE, "read")
    views = dict(access.decision.field_views)
    return [
        public(r, views, policy.state.fields) for r in repository.requests_for(session, customer_id)
    ]
