"""The portrait, the household view and explicit unmask.

Every value is rendered from its `fields.yaml` classification and mask and the
decision's field view at the call's assurance level for this customer. Unmask is
a separate policy action that needs a reason; the reason (numbers in it masked)
goes into the audit event as `unmask_reason`, and the grant is short-lived: the
response says when the plain values must be discarded.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from anxin_profile.access import authorize
from anxin_profile.contacts import repository as contacts
from anxin_profile.customers import repository
from anxin_profile.customers.models import Customer, Note
from anxin_profile.disclosure import Fields, render, render_as, view_for
from anxin_profile.portrait.models import UnmaskGrant
from anxin_profile.portrait.schemas import (
    ContactPointPublic,
    HoldingPublic,
    HouseholdMember,
    HouseholdView,
    NoteCreate,
    NotePublic,
    Portrait,
    UnmaskRequest,
    UnmaskResult,
)
from anxin_shared.errors import Forbidden, ValidationFailed
from anxin_shared.masking import mask_free_text
from anxin_shared.policy import PolicyEngine
from anxin_shared.principal import Principal

PORTRAIT = "customer.portrait"
HOUSEHOLD = "customer.household"
PROFILE = "customer.profile"
CHANNEL_FIELDS = {
    "mobile": "customer.mobile",
    "email": "customer.email",
    "address": "customer.address",
    "device": "customer.device",
    "app_account": "customer.app_account",
}
IDENTITY_FIELDS = ("name", "gender", "birth_date", "id_type", "id_number")
UNMASKABLE = (
    "name",
    "birth_date",
    "id_number",
    "mobile",
    "email",
    "address",
    "bank_account",
    "policy_number",
    "notes",
)
# Relation of a member (by household role) as seen from the viewer's household role.
_RELATIONS: dict[str, dict[str, str]] = {
    "head": {"spouse": "spouse", "child": "child", "parent": "parent"},
    "spouse": {"head": "spouse", "child": "child", "parent": "parent_in_law"},
    "child": {"head": "parent", "spouse": "parent", "child": "sibling", "parent": "grandparent"},
    "parent": {"head": "child", "spouse": "child_in_law", "child": "grandchild"},
}


def relation(viewer_role: str | None, member_role: str | None) -> str:
    """How a household member relates to the viewer."""
    return _RELATIONS.get(viewer_role or "", {}).get(member_role or "", "household_member")


def _preferences(
    fields: Fields, views: dict[str, str], customer_id: str, session: Session
) -> tuple[list[str] | None, dict[str, Any] | None]:
    preference = repository.preference_for(session, customer_id)
    tags: list[str] = json.loads(preference.tags) if preference else []
    prefs: dict[str, Any] = json.loads(preference.contact_preferences) if preference else {}
    tag_view = view_for(fields, views, "customer.tags")
    pref_view = view_for(fields, views, "customer.contact_preferences")
    shown_tags = (
        None
        if tag_view == "hidden"
        else [str(render(fields, views, "customer.tags", tag)) for tag in tags]
    )
    shown_prefs = (
        None
        if pref_view == "hidden"
        else {key: value if pref_view == "plain" else "***" for key, value in prefs.items()}
    )
    return shown_tags, shown_prefs


def household_view(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    audit_action: str = "read",
) -> HouseholdView:
    """The household of the customer in the call; members of other subsidiaries withheld."""
    access = authorize(
        session, policy, principal, customer_id, HOUSEHOLD, "read", audit_action=audit_action
    )
    customer = access.customer
    fields = policy.state.fields
    members: list[HouseholdMember] = []
    if customer.household_id:
        for member in repository.household_members(session, customer.household_id):
            if member.customer_id == customer.customer_id or member.record_status == "erased":
                continue
            # A member is another person: shown at L0 views in the member's own subsidiary.
            views = policy.field_views(principal.subject, member.subsidiary, "L0")
            visible = view_for(fields, views, "customer.name") != "hidden"
            members.append(
                HouseholdMember(
                    relation=relation(customer.household_role, member.household_role),
                    customer_id=member.customer_id if visible else None,
                    name=render(fields, views, "customer.name", member.name) if visible else None,
                    birth_date=render(fields, views, "customer.birth_date", member.birth_date)
                    if visible
                    else None,
                    subsidiary=member.subsidiary if visible else None,
                    withheld=not visible,
                )
            )
    return HouseholdView(
        customer_id=customer.customer_id,
        household_id=customer.household_id,
        role=customer.household_role,
        members=members,
        decision_id=access.decision.decision_id,
    )


def _household_if_allowed(
    session: Session, policy: PolicyEngine, principal: Principal, customer: Customer
) -> HouseholdView | None:
    try:
        return household_view(session, policy, principal, customer.customer_id, "portrait")
    except Forbidden:
        return None


def portrait(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str
) -> Portrait:
    """The customer's portrait as policy discloses it to this caller."""
    access = authorize(session, policy, principal, customer_id, PORTRAIT, "read")
    customer, decision = access.customer, access.decision
    fields = policy.state.fields
    views = dict(decision.field_views)
    points: dict[str, list[ContactPointPublic]] = {}
    for point in contacts.for_customer(session, customer_id):
        field = CHANNEL_FIELDS.get(point.channel)
        if field is None or view_for(fields, views, field) == "hidden":
            continue
        points.setdefault(point.channel, []).append(
            ContactPointPublic(
                value=render(fields, views, field, point.value),
                source_channel=point.source_channel,
                first_seen=point.first_seen,
                registered=point.registered,
            )
        )
    accounts: list[HoldingPublic] = []
    policies: list[HoldingPublic] = []
    for holding in repository.holdings_for(session, customer_id):
        number_field = (
            "customer.bank_account" if holding.kind == "bank_account" else "customer.policy_number"
        )
        if view_for(fields, views, number_field) == "hidden":
            continue
        public = HoldingPublic(
            number=render(fields, views, number_field, holding.number),
            product=render(fields, views, "customer.product", holding.product),
            subsidiary=holding.subsidiary,
            status=holding.status,
        )
        (accounts if holding.kind == "bank_account" else policies).append(public)
    tags, prefs = _preferences(fields, views, customer_id, session)
    notes = [
        NotePublic(
            note_id=note.note_id,
            author=note.author,
            created_at=note.created_at,
            text=render(fields, views, "customer.notes", note.text),
        )
        for note in repository.notes_for(session, customer_id)
    ]
    household = _household_if_allowed(session, policy, principal, customer)
    return Portrait(
        customer_id=customer.customer_id,
        subsidiary=render(fields, views, "customer.subsidiary", customer.subsidiary),
        record_status=customer.record_status,
        assurance_level=decision.assurance_level,
        identity={
            f: render(fields, views, f"customer.{f}", getattr(customer, f)) for f in IDENTITY_FIELDS
        },
        contact_points=points,
        bank_accounts=accounts,
        insurance_policies=policies,
        segments={
            "value_tier": render(fields, views, "customer.value_tier", customer.value_tier),
            "lifecycle_stage": render(
                fields, views, "customer.lifecycle_stage", customer.lifecycle_stage
            ),
            "tags": tags,
        },
        contact_preferences=prefs,
        notes=notes,
        household=household,
        field_views={
            name: view_for(fields, views, name)
            for name in sorted(
                {
                    *CHANNEL_FIELDS.values(),
                    *(
                        f"customer.{f}"
                        for f in (
                            *IDENTITY_FIELDS,
                            "bank_account",
                            "policy_number",
                            "notes",
                            "product",
                            "value_tier",
                            "lifecycle_stage",
                            "tags",
                            "contact_preferences",
                        )
                    ),
                }
            )
        },
        decision_id=decision.decision_id,
        policy_version=decision.policy_version,
    )


def add_note(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    body: NoteCreate,
    now: datetime,
) -> NotePublic:
    """Record an interaction note on the customer in the call."""
    access = authorize(session, policy, principal, customer_id, PORTRAIT, "create")
    note = Note(
        note_id=uuid.uuid4().hex,
        customer_id=customer_id,
        author=principal.subject,
        text=body.text,
        created_at=now,
    )
    session.add(note)
    session.flush()
    fields = policy.state.fields
    text = render(fields, access.decision.field_views, "customer.notes", note.text)
    return NotePublic(note_id=note.note_id, author=note.author, created_at=now, text=text)


def unmask(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    body: UnmaskRequest,
    now: datetime,
    grant_seconds: int,
) -> UnmaskResult:
    """Plain values of some fields, where policy allows unmask; always audited with the reason."""
    unknown = sorted(set(body.fields) - set(UNMASKABLE))
    if unknown:
        raise ValidationFailed("fields that cannot be unmasked: " + ", ".join(unknown))
    reason = mask_free_text(body.reason.strip())
    access = authorize(
        session,
        policy,
        principal,
        customer_id,
        PROFILE,
        "unmask",
        unmask_reason=reason,
    )
    customer, decision = access.customer, access.decision
    fields = policy.state.fields
    values: dict[str, str | None] = {}
    withheld: list[str] = []
    for name in dict.fromkeys(body.fields):
        field = f"customer.{name}"
        # Unmask lifts a mask; it never reveals what policy hides from this caller entirely.
        if view_for(fields, decision.field_views, field) == "hidden":
            withheld.append(name)
            continue
        values[name] = render_as(fields, field, getattr(customer, name), "plain")
    grant = UnmaskGrant(
        grant_id=uuid.uuid4().hex,
        subject=principal.subject,
        customer_id=customer_id,
        fields=",".join(values),
        reason=reason,
        decision_id=decision.decision_id,
        call_session=principal.call_session,
        created_at=now,
        expires_at=now + timedelta(seconds=grant_seconds),
    )
    session.add(grant)
    session.flush()
    return UnmaskResult(
        customer_id=customer_id,
        values=values,
        withheld=withheld,
        grant_id=grant.grant_id,
        expires_at=grant.expires_at,
        decision_id=decision.decision_id,
    )
