"""Customers: object-level decisions, masking by policy, validation at the source, audit.

A customer of another subsidiary and a customer that does not exist get the
same 403, so the answer never reveals whether an id exists. An agent reads only
the customer verified in its call session unless policy gives wider access with
a stated reason (see `anxin_profile.access`).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from anxin_profile.access import (
    NO_ACCESS,
    assurance_for,
    audit,
    authorize,
    wider_access,
)
from anxin_profile.contacts import repository as contacts
from anxin_profile.contacts.models import ContactPoint
from anxin_profile.customers import repository
from anxin_profile.customers.models import Customer, Holding, Preference
from anxin_profile.customers.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerPublic,
    CustomerUpdate,
)
from anxin_profile.customers.validation import FieldProblem, normalise, validate
from anxin_profile.disclosure import Fields, render, view_for
from anxin_profile.normalize import device_key, number_key
from anxin_shared.errors import Conflict, Forbidden, ValidationFailed
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

__all__ = ["assurance_for", "create_customer", "list_page", "read_customer", "update_customer"]

RESOURCE = "customer.profile"
DISCLOSED_FIELDS = (
    "subsidiary",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "mobile",
    "email",
    "address",
    "bank_account",
    "policy_number",
    "value_tier",
    "lifecycle_stage",
    "notes",
)
EDITABLE_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "mobile",
    "email",
    "address",
    "postcode",
    "bank_account",
    "policy_number",
    "value_tier",
    "lifecycle_stage",
)
PRODUCTS = {"life": "安信人寿终身寿险", "pc": "安信财险机动车辆保险"}


class InvalidCustomerData(ValidationFailed):
    """422 listing every bad field. Raised before any write, so the decision's audit
    event (already enqueued) is kept, like a denial's; nothing else is stored."""

    keeps_audit = True


def masked_view(customer: Customer, decision: Decision, fields: Fields) -> CustomerPublic:
    """The customer as the decision's field views allow; unknown fields are hidden."""
    values: dict[str, Any] = {}
    views: dict[str, str] = {}
    for attribute in DISCLOSED_FIELDS:
        field = f"customer.{attribute}"
        values[attribute] = render(
            fields, decision.field_views, field, getattr(customer, attribute)
        )
        views[attribute] = view_for(fields, decision.field_views, field)
    return CustomerPublic(
        customer_id=customer.customer_id,
        record_status=customer.record_status,
        field_views=views,
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
        **values,
    )


def read_customer(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str
) -> CustomerPublic:
    """One customer, if policy lets this principal read it in its subsidiary."""
    access = authorize(session, policy, principal, customer_id, RESOURCE, "read")
    return masked_view(access.customer, access.decision, policy.state.fields)


def list_page(
    session: Session, policy: PolicyEngine, principal: Principal, limit: int, offset: int
) -> CustomerPage:
    """A masked page of the principal's own subsidiary's customers (assurance L0).

    Listing shows customers other than the one in the call, so a user needs wider
    access (a `browse` rule with a stated reason)."""
    granted, reason = wider_access(policy, principal, principal.subsidiary, RESOURCE)
    decision = policy.decide(
        principal.subject,
        principal.subsidiary,
        RESOURCE,
        "read",
        "L0",
        facts={"wider_access_with_stated_reason": granted},
        with_field_views=True,
    )
    if reason is not None:
        decision = replace(decision, reasons=(*decision.reasons, f"wider access: {reason}"))
    audit(session, principal, decision, "list", RESOURCE, None)
    if not decision.allowed:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    customers = repository.list_customers(session, principal.subsidiary, limit, offset)
    fields = policy.state.fields
    return CustomerPage(
        items=[masked_view(customer, decision, fields) for customer in customers],
        total=repository.count_customers(session, principal.subsidiary),
        limit=limit,
        offset=offset,
    )


def _problems(problems: list[FieldProblem]) -> InvalidCustomerData:
    error = InvalidCustomerData(
        "invalid fields: " + ", ".join(sorted({problem.field for problem in problems}))
    )
    error.extra["errors"] = [problem.as_dict() for problem in problems]
    return error


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12].upper()}"


def add_contact_point(
    session: Session,
    customer_id: str,
    channel: str,
    value: str,
    source: str,
    now: datetime,
    registered: bool = False,
) -> None:
    """Stage a contact point with its normalised matching key."""
    if channel == "mobile":
        key = number_key(value)
    elif channel in ("device", "app_account"):
        key = device_key(value)
    else:
        key = value.strip().lower()
    contacts.add(
        session,
        ContactPoint(
            contact_id=uuid.uuid4().hex,
            customer_id=customer_id,
            channel=channel,
            value=value,
            match_key=key,
            source_channel=source,
            registered=registered,
            first_seen=now,
        ),
    )


def add_holdings(session: Session, customer: Customer, now: datetime) -> None:
    """Stage the bank account and insurance policy a customer record names."""
    if customer.bank_account:
        product = "安信银行借记卡" if customer.subsidiary == "bank" else "缴费扣款账户"
        session.add(
            Holding(
                holding_id=uuid.uuid4().hex,
                customer_id=customer.customer_id,
                kind="bank_account",
                number=customer.bank_account,
                product=product,
                subsidiary=customer.subsidiary,
                opened_at=now,
            )
        )
    if customer.policy_number:
        session.add(
            Holding(
                holding_id=uuid.uuid4().hex,
                customer_id=customer.customer_id,
                kind="insurance_policy",
                number=customer.policy_number,
                product=PRODUCTS.get(customer.subsidiary, "保险产品"),
                subsidiary=customer.subsidiary,
                opened_at=now,
            )
        )


def _checked(data: dict[str, Any], subsidiary: str, today: date) -> dict[str, Any]:
    data = normalise(data)
    problems = validate(data, today, subsidiary)
    if problems:
        raise _problems(problems)
    data["birth_date"] = date.fromisoformat(str(data["birth_date"]))
    return data


def create_customer(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    body: CustomerCreate,
    now: datetime,
) -> CustomerPublic:
    """Validate (422 listing every bad field, nothing stored), then store a new customer."""
    subsidiary = principal.subsidiary
    decision = policy.decide(principal.subject, subsidiary, RESOURCE, "create", "L0")
    audit(session, principal, decision, "create", RESOURCE, None)
    if not decision.allowed:
        raise Forbidden("may not create customers here", decision_id=decision.decision_id)
    data = _checked(body.model_dump(exclude={"branch", "source_channel"}), subsidiary, now.date())
    if repository.by_id_number(session, data["id_number"]) is not None:
        raise Conflict("this customer cannot be created; search for the existing record")
    customer = Customer(
        customer_id=_new_id("K"),
        subsidiary=subsidiary,
        created_at=now,
        branch=body.branch or f"{subsidiary}-hq",
        servicing_agent=principal.subject if principal.kind == "user" else None,
        **data,
    )
    session.add(customer)
    add_contact_point(
        session, customer.customer_id, "mobile", customer.mobile, body.source_channel, now, True
    )
    if customer.email:
        add_contact_point(
            session, customer.customer_id, "email", customer.email, body.source_channel, now
        )
    if customer.address:
        add_contact_point(
            session, customer.customer_id, "address", customer.address, body.source_channel, now
        )
    add_holdings(session, customer, now)
    session.add(Preference(customer_id=customer.customer_id))
    session.flush()
    view = policy.decide(
        principal.subject, subsidiary, RESOURCE, "read", "L0", with_field_views=True
    )
    return masked_view(customer, view, policy.state.fields)


def update_customer(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    body: CustomerUpdate,
    now: datetime,
) -> CustomerPublic:
    """Change some fields; the merged record is validated as a whole before anything changes."""
    access = authorize(session, policy, principal, customer_id, RESOURCE, "update")
    apply_changes(session, access.customer, body.model_dump(exclude_unset=True), now)
    return masked_view(access.customer, access.decision, policy.state.fields)


def check_changes(customer: Customer, changes: dict[str, Any], today: date) -> dict[str, Any]:
    """The merged, normalised record, or InvalidCustomerData listing every bad field."""
    merged = {field: getattr(customer, field) for field in EDITABLE_FIELDS}
    merged["birth_date"] = customer.birth_date.isoformat()
    merged.update({key: value for key, value in changes.items() if key in EDITABLE_FIELDS})
    return _checked(merged, customer.subsidiary, today)


def apply_changes(
    session: Session, customer: Customer, changes: dict[str, Any], now: datetime
) -> None:
    """Validate the merged record, then change the customer and its contact points/holdings."""
    data = check_changes(customer, changes, now.date())
    if data["id_number"] != customer.id_number:
        other = repository.by_id_number(session, data["id_number"])
        if other is not None and other.customer_id != customer.customer_id:
            raise Conflict("this ID number cannot be used for this customer")
    old_mobile = customer.mobile
    for field in changes:
        if field in EDITABLE_FIELDS:
            setattr(customer, field, data[field])
    session.add(customer)
    if customer.mobile != old_mobile:
        for point in contacts.for_customer(session, customer.customer_id):
            if point.channel == "mobile" and point.registered:
                point.registered = False
                session.add(point)
        add_contact_point(
            session, customer.customer_id, "mobile", customer.mobile, "call_center", now, True
        )
    if {"bank_account", "policy_number"} & set(changes):
        for holding in repository.holdings_for(session, customer.customer_id):
            if holding.number not in (customer.bank_account, customer.policy_number):
                holding.status, holding.status_reason = "closed", "replaced by an update"
                session.add(holding)
        known = {h.number for h in repository.holdings_for(session, customer.customer_id)}
        if (customer.bank_account and customer.bank_account not in known) or (
            customer.policy_number and customer.policy_number not in known
        ):
            add_holdings(session, _only_new(customer, known), now)
    session.flush()


def _only_new(customer: Customer, known: set[str]) -> Customer:
    """A copy of the customer naming only holdings not yet recorded."""
    copy = Customer.model_validate(customer.model_dump())
    if copy.bank_account in known:
        copy.bank_account = None
    if copy.policy_number in known:
        copy.policy_number = None
    return copy
