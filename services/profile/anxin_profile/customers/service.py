"""Reading customers: object-level decision, masking by policy, audit in the same transaction.

A customer of another subsidiary and a customer that does not exist get the
same 403, so the answer never reveals whether an id exists.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from anxin_profile.customers import repository
from anxin_profile.customers.models import Customer
from anxin_profile.customers.schemas import CustomerPage, CustomerPublic
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Forbidden
from anxin_shared.masking import apply_view
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

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
NO_ACCESS = "no access to this customer"


def assurance_for(principal: Principal, customer_id: str) -> str:
    """The call's assurance counts only for the customer the session verified."""
    if principal.verified_customer == customer_id:
        return principal.assurance_level
    return "L0"


def masked_view(
    customer: Customer, decision: Decision, fields: dict[str, dict[str, str]]
) -> CustomerPublic:
    """The customer as the decision's field views allow; unknown fields are hidden."""
    values: dict[str, Any] = {}
    views: dict[str, str] = {}
    for attribute in DISCLOSED_FIELDS:
        spec = fields.get(f"customer.{attribute}")
        view = decision.field_views.get(spec["classification"], "hidden") if spec else "hidden"
        raw = getattr(customer, attribute)
        text = None if raw is None else str(raw)
        values[attribute] = apply_view(text, spec["mask"], view) if spec else None
        views[attribute] = view
    return CustomerPublic(
        customer_id=customer.customer_id,
        field_views=views,
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
        **values,
    )


def _audit(
    session: Session,
    principal: Principal,
    decision: Decision,
    action: str,
    customer_ref: str | None,
) -> None:
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event(
            "profile",
            principal,
            decision,
            action=action,
            resource=RESOURCE,
            customer_ref=customer_ref,
        ),
    )


def read_customer(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str
) -> CustomerPublic:
    """One customer, if policy lets this principal read it in its subsidiary."""
    customer = repository.get_customer(session, customer_id)
    domain = customer.subsidiary if customer else "-"
    decision = policy.decide(
        principal.subject,
        domain,
        RESOURCE,
        "read",
        assurance_for(principal, customer_id),
        with_field_views=True,
    )
    allowed = customer is not None and decision.allowed
    _audit(session, principal, decision, "read", customer_id)
    if not allowed or customer is None:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    return masked_view(customer, decision, policy.state.fields)


def list_page(
    session: Session, policy: PolicyEngine, principal: Principal, limit: int, offset: int
) -> CustomerPage:
    """A masked page of the principal's own subsidiary's customers (assurance L0)."""
    decision = policy.decide(
        principal.subject, principal.subsidiary, RESOURCE, "read", "L0", with_field_views=True
    )
    _audit(session, principal, decision, "list", None)
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
