"""Consent withdrawals (stop sharing) and gated sharing with subsidiary systems.

Gated sharing, in order: policy decides, per field classification, what this
recipient (the client's subsidiary) may receive for the declared purpose
(`share.<purpose>.plain` / `share.<purpose>.masked` on the classification; deny
rules, the regulatory bans, win over any allow); the consent service is asked for
the recipient-specific consent of each of those classifications; a consent the
consent service has told us was withdrawn never counts; then one decision with
those facts is taken and audited with each consent id used, and only consented,
allowed fields are returned, masked as policy says. Another subsidiary's missing
customer and a customer that does not exist look the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlmodel import Session

from anxin_profile.access import audit
from anxin_profile.customers import repository as customers
from anxin_profile.customers.models import Customer
from anxin_profile.disclosure import classification, render_as
from anxin_profile.sharing import repository
from anxin_profile.sharing.models import ConsentWithdrawal
from anxin_profile.sharing.schemas import (
    ConsentEventsAccepted,
    ConsentWithdrawnEvent,
    SharedField,
    SharingResponse,
)
from anxin_shared.consent import ConsentCheck
from anxin_shared.errors import Forbidden, ValidationFailed
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal


def record_withdrawals(
    session: Session, events: list[ConsentWithdrawnEvent]
) -> ConsentEventsAccepted:
    """Store each new withdrawal once (by event id); sharing checks them from now on."""
    accepted = duplicates = 0
    now = datetime.now(UTC)
    seen: set[str] = set()
    for event in events:
        if event.event_id in seen or repository.get_withdrawal(session, event.event_id):
            duplicates += 1
            continue
        seen.add(event.event_id)
        session.add(
            ConsentWithdrawal(
                event_id=event.event_id,
                customer_id=event.customer_id,
                purpose=event.purpose,
                category=event.category,
                recipient=event.recipient,
                consent_id=event.consent_id,
                withdrawn_at=event.withdrawn_at or now,
                received_at=now,
            )
        )
        accepted += 1
    session.flush()
    return ConsentEventsAccepted(accepted=accepted, duplicates=duplicates)


# -- gated sharing --------------------------------------------------------------------------

RESOURCE = "customer.sharing"
NO_ACCESS = "no access to this customer"
SHARED_FIELDS = (
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
)


@dataclass
class SharingPlan:
    """What policy would disclose to this recipient for this purpose, before consent."""

    customer: Customer | None
    recipient: str
    purpose: str
    views: dict[str, str]  # field -> plain | masked (only fields policy allows)
    regulatory_denials: list[str]  # the deny rules that withheld a field


def known_purposes(policy: PolicyEngine) -> set[str]:
    """The purposes the catalogue declares sharing actions for (`share.<purpose>.<view>`)."""
    actions = policy.state.catalogue.get("actions") or []
    return {
        str(action).split(".")[1]
        for action in actions
        if str(action).startswith("share.") and str(action).count(".") == 2
    }


def share_view(
    policy: PolicyEngine, subject: str, recipient: str, purpose: str, classification: str
) -> tuple[str, str | None]:
    """The view of one classification for this recipient and purpose, and any deny rule hit."""
    denial: str | None = None
    for view in ("plain", "masked"):
        decision = policy.decide(subject, recipient, classification, f"share.{purpose}.{view}")
        if decision.allowed:
            return view, None
        if decision.matched_rule and decision.matched_rule.endswith("deny"):
            denial = decision.matched_rule
    return "hidden", denial


def plan(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str, purpose: str
) -> SharingPlan:
    """Which fields policy lets this client receive for this purpose (no consent yet)."""
    if purpose not in known_purposes(policy):
        raise ValidationFailed("unknown purpose")
    customer = customers.get_customer(session, customer_id)
    if customer is not None and customer.record_status == "erased":
        customer = None
    fields = policy.state.fields
    views: dict[str, str] = {}
    denials: list[str] = []
    for name in SHARED_FIELDS:
        category = classification(fields, f"customer.{name}")
        if category is None:
            continue
        view, denial = share_view(
            policy, principal.subject, principal.subsidiary, purpose, category
        )
        if view != "hidden":
            views[name] = view
        elif denial:
            denials.append(denial)
    return SharingPlan(customer, principal.subsidiary, purpose, views, sorted(set(denials)))


def plan_categories(policy: PolicyEngine, shared: SharingPlan) -> list[str]:
    """The classifications of the fields policy would disclose."""
    fields = policy.state.fields
    return sorted({c for name in shared.views if (c := classification(fields, f"customer.{name}"))})


def disclose(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    shared: SharingPlan,
    consents: dict[str, ConsentCheck],
) -> SharingResponse:
    """Decide with the facts (policy, consent), audit with the consent ids, and disclose."""
    fields = policy.state.fields
    withdrawn = {w.consent_id for w in repository.withdrawals_for(session, customer_id)}
    consented: dict[str, str | None] = {}
    for category, answer in consents.items():
        if answer.allowed and answer.consent_id not in withdrawn:
            consented[category] = answer.consent_id
    disclosed = {
        name: view
        for name, view in shared.views.items()
        if classification(fields, f"customer.{name}") in consented
    }
    decision = policy.decide(
        principal.subject,
        shared.recipient,
        RESOURCE,
        "read",
        "L0",
        facts={
            "customer_exists": shared.customer is not None,
            "policy_allows_purpose": bool(shared.views),
            "recipient_specific_consent": bool(disclosed),
        },
    )
    if shared.regulatory_denials:
        decision = replace(
            decision,
            reasons=(
                *decision.reasons,
                *(f"regulatory rule: {r}" for r in shared.regulatory_denials),
            ),
        )
    consent_ids = sorted(
        {
            consent_id
            for name in disclosed
            if (consent_id := consented.get(classification(fields, f"customer.{name}") or ""))
        }
    )
    audited: list[str | None] = list(consent_ids) or [None]
    for consent_id in audited:
        audit(
            session,
            principal,
            decision,
            f"share.{shared.purpose}"[:32],
            RESOURCE,
            customer_id,
            consent_id=consent_id,
        )
    if not decision.allowed or shared.customer is None:
        # One answer for a missing customer, a policy or regulatory ban and a missing
        # consent: the reasons are in the audit trail under this decision id.
        raise Forbidden(NO_ACCESS, decision_id=decision.decision_id)
    customer = shared.customer
    out: dict[str, SharedField] = {}
    for name, view in disclosed.items():
        field = f"customer.{name}"
        category = classification(fields, field) or ""
        out[name] = SharedField(
            value=render_as(fields, field, getattr(customer, name), view),
            view=view,
            classification=category,
            consent_id=consented.get(category),
        )
    withheld = {
        name: "no recipient-specific consent" for name in shared.views if name not in disclosed
    }
    return SharingResponse(
        customer_id=customer.customer_id,
        purpose=shared.purpose,
        recipient=shared.recipient,
        fields=out,
        withheld=withheld,
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )
