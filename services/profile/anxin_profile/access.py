"""Object-level authorization for every read or write of a customer record.

Each decision is taken with the same engine against the record's owning
subsidiary and audited in the same transaction; a record of another subsidiary
and one that does not exist get the same 403.

**Only the customer in the call.** A user (an agent at a desk) may act on the
customer verified in its current call session. Acting on any other customer
needs *wider access*, which policy gives with a stated reason: a ``browse`` rule
on the resource for one of the caller's roles **and** a reason for that
(role, resource) under ``wider_access`` in ``policies/catalogue.yaml``. A browse
rule without a stated reason grants nothing. The reason goes into the decision's
reasons, and so into the audit event. Machine clients and services have no call
session; their routes decide without this fact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session

from anxin_profile.customers import repository
from anxin_profile.customers.models import Customer
from anxin_shared.audit_event import AUDIT_TOPIC, decision_event
from anxin_shared.errors import Forbidden
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

NO_ACCESS = "no access to this customer"
IN_CALL_FACT = "verified_in_call_session"
WIDER_ACTION = "browse"


@dataclass(frozen=True)
class Access:
    """A customer this principal may act on, and the decision that said so."""

    customer: Customer
    decision: Decision


def assurance_for(principal: Principal, customer_id: str) -> str:
    """The call's assurance counts only for the customer the session verified."""
    if principal.verified_customer == customer_id:
        return principal.assurance_level
    return "L0"


def stated_reason(
    policy: PolicyEngine, principal: Principal, domain: str, resource: str
) -> str | None:
    """The reason policy states for this caller's wider access to `resource`, if any."""
    wider: Any = policy.state.catalogue.get("wider_access") or {}
    if not isinstance(wider, dict):
        return None
    for role in policy.roles_for(principal.subject, domain):
        reasons = wider.get(role)
        if isinstance(reasons, dict) and isinstance(reasons.get(resource), str):
            return f"{role}: {reasons[resource]}"
    return None


def wider_access(
    policy: PolicyEngine, principal: Principal, domain: str, resource: str
) -> tuple[bool, str | None]:
    """Whether the caller may act beyond its verified customer, and the stated reason."""
    if principal.kind != "user":
        return True, None
    browse = policy.decide(principal.subject, domain, resource, WIDER_ACTION, "L0")
    if not browse.allowed:
        return False, None
    reason = stated_reason(policy, principal, domain, resource)
    return reason is not None, reason


def audit(
    session: Session,
    principal: Principal,
    decision: Decision | None,
    action: str,
    resource: str,
    customer_ref: str | None,
    **extra: Any,
) -> None:
    """Enqueue the decision's audit event in the caller's transaction."""
    enqueue(
        session,
        AUDIT_TOPIC,
        decision_event(
            "profile",
            principal,
            decision,
            action=action,
            resource=resource,
            customer_ref=customer_ref,
            **extra,
        ),
    )


def authorize(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    resource: str,
    action: str,
    *,
    only_in_call: bool = True,
    audit_action: str | None = None,
    level: str | None = None,
    include_erased: bool = False,
    **audit_extra: Any,
) -> Access:
    """Decide (and audit) `action` on one customer; raise the same 403 for denied or missing."""
    customer = repository.get_customer(session, customer_id)
    if customer is not None and customer.record_status == "erased" and not include_erased:
        customer = None
    domain = customer.subsidiary if customer else "-"
    facts: dict[str, bool] = {}
    reason: str | None = None
    if only_in_call and principal.kind == "user" and principal.verified_customer != customer_id:
        granted, reason = wider_access(policy, principal, domain, resource)
        facts[IN_CALL_FACT] = granted
    decision = policy.decide(
        principal.subject,
        domain,
        resource,
        action,
        level or assurance_for(principal, customer_id),
        facts=facts,
        with_field_views=True,
    )
    if reason is not None:
        decision = replace(decision, reasons=(*decision.reasons, f"wider access: {reason}"))
    audit(
        session, principal, decision, audit_action or action, resource, customer_id, **audit_extra
    )
    if customer is None or not decision.allowed:
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    return Access(customer, decision)
