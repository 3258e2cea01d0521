"""Outreach rules: templates, campaigns to segments, opt-outs, messages, reminders, fraud alerts.

A campaign reaches exactly the opted-in customers of a segment: a member who
has not opted in to being contacted (`marketing_opt_in` in the stored contact
preferences), who opted out of the purpose, or who cannot be reached on the
template's channel gets a `suppressed` message with that reason. Opt-outs,
quiet hours and the frequency cap are checked again when each message is due
(see `dispatch.py`), so an opt-out during a campaign stops the rest at once.

**Fraud alerts are security notices.** One per fraud signal (idempotent by the
signal's event id), sent on the channel the customer registered (the app when
that is the preferred channel and an app account exists, else SMS to the
registered mobile); they bypass the marketing opt-in, purpose opt-outs, quiet
hours and the frequency cap, which govern education campaigns only.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from anxin_profile.access import audit, authorize
from anxin_profile.clock import as_utc
from anxin_profile.customers import repository as customers
from anxin_profile.customers.models import Customer, Preference
from anxin_profile.demo_data import LIFECYCLE_STAGES, VALUE_TIERS
from anxin_profile.outreach import repository
from anxin_profile.outreach.models import (
    STATUSES,
    FraudSignal,
    OutreachCampaign,
    OutreachMessage,
    OutreachOptOut,
    OutreachTemplate,
)
from anxin_profile.outreach.quiet_hours import QuietHours
from anxin_profile.outreach.schemas import (
    CampaignCounts,
    CampaignCreate,
    CampaignList,
    CampaignPublic,
    FraudSignalEvent,
    FraudSignalsAccepted,
    MessageList,
    MessagePublic,
    OptOutList,
    OptOutPublic,
    SecurityReminder,
    TemplateCreate,
    TemplateList,
    TemplatePublic,
)
from anxin_profile.outreach.texts import BRANDS, SIGNAL_WORDS, check_template, render
from anxin_profile.settings import ProfileSettings
from anxin_shared.audit_event import AUDIT_TOPIC, outreach_message_event
from anxin_shared.errors import Forbidden, NotFound, ValidationFailed
from anxin_shared.masking import mask_free_text, mask_name
from anxin_shared.outbox import enqueue
from anxin_shared.policy import Decision, PolicyEngine
from anxin_shared.principal import Principal

TEMPLATES = "outreach.template"
CAMPAIGNS = "outreach.campaign"
MESSAGES = "outreach.message"
OPT_OUTS = "outreach.optout"
REMINDER = "customer.security_reminder"
FRAUD_ALERT = "fraud_alert"
SYSTEM = Principal(subject="service:profile", kind="service", subsidiary="group")
MAX_SCHEDULE_AHEAD = timedelta(days=366)


# ------------------------------------------------------------------------------ decisions


def _decide(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    domain: str,
    resource: str,
    action: str,
) -> Decision:
    """Decide (and audit) an outreach operation in a subsidiary; raise 403 when denied."""
    decision = policy.decide(principal.subject, domain, resource, action, "L0")
    audit(session, principal, decision, action, resource, None)
    if not decision.allowed:
        raise Forbidden(f"may not {action} {resource} here", decision_id=decision.decision_id)
    return decision


def audit_message(session: Session, message: OutreachMessage, allowed: bool) -> None:
    """One audit event per message: its content as template id and variables, never a text.

    The variables are system-filled and carry no number in the clear; they are masked
    once more here, so a message failed for an unmasked number is still audited.
    """
    variables: dict[str, str] = json.loads(message.variables)
    event = outreach_message_event(
        "profile",
        SYSTEM,
        message_id=message.message_id,
        purpose=message.purpose,
        channel=message.channel,
        template=message.template_id,
        variables={name: mask_free_text(value) for name, value in variables.items()},
        status=message.status,
        reason=message.reason,
        customer_ref=message.customer_id,
        campaign_id=message.campaign_id,
        fraud_signal_id=message.signal_id,
        allowed=allowed,
        resource=MESSAGES,
    )
    enqueue(session, AUDIT_TOPIC, event)


# ------------------------------------------------------------------------------ templates


def template_public(template: OutreachTemplate) -> TemplatePublic:
    """The public form of a template."""
    return TemplatePublic(
        template_id=template.template_id,
        purpose=template.purpose,
        channel=template.channel,
        language=template.language,
        segment=template.segment,
        title=template.title,
        body=template.body,
        variables=json.loads(template.variables),
        created_by=template.created_by,
        created_at=as_utc(template.created_at),
    )


def list_templates(
    session: Session, policy: PolicyEngine, principal: Principal, purpose: str | None
) -> TemplateList:
    """Every template (of one purpose, if given)."""
    _decide(session, policy, principal, principal.subsidiary, TEMPLATES, "read")
    return TemplateList(items=[template_public(t) for t in repository.templates(session, purpose)])


def create_template(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    body: TemplateCreate,
    now: datetime,
) -> TemplatePublic:
    """A new template; unknown variables and unmasked numbers are refused (422)."""
    _decide(session, policy, principal, principal.subsidiary, TEMPLATES, "create")
    check_template(body.body, body.title, body.variables)
    template = OutreachTemplate(
        template_id=f"tpl-{uuid.uuid4().hex[:16]}",
        purpose=body.purpose,
        channel=body.channel,
        language=body.language,
        segment=body.segment,
        title=body.title,
        body=body.body,
        variables=json.dumps(sorted(set(body.variables))),
        created_by=principal.subject,
        created_at=now,
    )
    session.add(template)
    session.flush()
    return template_public(template)


# ------------------------------------------------------------------------------ campaigns


def _preferences(preference: Preference | None) -> dict[str, Any]:
    prefs = json.loads(preference.contact_preferences) if preference else {}
    return prefs if isinstance(prefs, dict) else {}


def segments_of(customer: Customer, preference: Preference | None) -> list[str]:
    """A customer's segments: tags first, then value tier and lifecycle stage."""
    tags = repository.tags_of(preference)
    return list(dict.fromkeys([*tags, customer.value_tier, customer.lifecycle_stage]))


def variables_for(
    template: OutreachTemplate,
    customer: Customer,
    settings: ProfileSettings,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The declared variables of a template, filled for one customer (the name masked)."""
    values = {
        "customer_name": mask_name(customer.name),
        "brand": BRANDS.get(template.language, BRANDS["zh-CN"]).get(customer.subsidiary, ""),
        "hotline": settings.outreach_hotline,
        **(extra or {}),
    }
    return {name: values.get(name, "") for name in json.loads(template.variables)}


def _reachable(session: Session, customer: Customer, channel: str) -> bool:
    if channel == "sms":
        return bool(customer.mobile)
    return repository.app_account(session, customer.customer_id) is not None


def _eligibility(
    session: Session, customer: Customer, preference: Preference | None, template: OutreachTemplate
) -> str | None:
    """Why a segment member gets no campaign message, or None."""
    if _preferences(preference).get("marketing_opt_in") is not True:
        return "not_opted_in"
    if repository.opted_out(session, customer.customer_id, template.purpose):
        return "opted_out"
    if not _reachable(session, customer, template.channel):
        return "no_channel"
    return None


def _campaign_template(session: Session, template_id: str) -> OutreachTemplate:
    template = session.get(OutreachTemplate, template_id)
    if template is None:
        raise ValidationFailed("no such template", field="template_id")
    if template.channel == "call_script":
        raise ValidationFailed(
            "a call-center script is not sent in a campaign", field="template_id"
        )
    if template.purpose == FRAUD_ALERT:
        raise ValidationFailed("fraud alerts are sent on fraud signals only", field="template_id")
    return template


def create_campaign(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    body: CampaignCreate,
    now: datetime,
    settings: ProfileSettings,
) -> CampaignPublic:
    """Queue one message per opted-in member of the segment (the rest suppressed, with why)."""
    _decide(session, policy, principal, body.subsidiary, CAMPAIGNS, "create")
    template = _campaign_template(session, body.template_id)
    scheduled = as_utc(body.scheduled_at) if body.scheduled_at else now
    if scheduled < now:
        raise ValidationFailed("the schedule is in the past", field="scheduled_at")
    if scheduled > now + MAX_SCHEDULE_AHEAD:
        raise ValidationFailed("a campaign is scheduled at most a year ahead", field="scheduled_at")
    population = repository.subsidiary_customers(session, body.subsidiary)
    known = {*VALUE_TIERS, *LIFECYCLE_STAGES}
    for customer, preference in population:
        known.update(segments_of(customer, preference))
    if body.segment not in known:
        raise ValidationFailed(f"no segment {body.segment!r} in {body.subsidiary}", field="segment")
    # A campaign due inside quiet hours waits until they end (checked again when due).
    quiet = QuietHours.parse(settings.outreach_quiet_hours, settings.outreach_timezone)
    due = quiet.release(scheduled)
    campaign = OutreachCampaign(
        campaign_id=f"cmp-{uuid.uuid4().hex[:16]}",
        name=body.name,
        subsidiary=body.subsidiary,
        segment=body.segment,
        template_id=template.template_id,
        purpose=template.purpose,
        channel=template.channel,
        scheduled_at=scheduled,
        created_by=principal.subject,
        created_at=now,
    )
    session.add(campaign)
    for customer, preference in population:
        if body.segment not in segments_of(customer, preference):
            continue
        reason = _eligibility(session, customer, preference, template)
        message = OutreachMessage(
            message_id=f"msg-{uuid.uuid4().hex[:20]}",
            campaign_id=campaign.campaign_id,
            customer_id=customer.customer_id,
            purpose=template.purpose,
            channel=template.channel,
            template_id=template.template_id,
            variables=json.dumps(
                variables_for(template, customer, settings), ensure_ascii=False, sort_keys=True
            ),
            status="suppressed" if reason else "queued",
            reason=reason,
            due_at=due,
            created_at=now,
        )
        session.add(message)
        if reason:
            audit_message(session, message, allowed=False)
    session.flush()
    return campaign_public(session, campaign)


def campaign_public(session: Session, campaign: OutreachCampaign) -> CampaignPublic:
    """A campaign with its delivery counts."""
    counts = dict.fromkeys(STATUSES, 0)
    by_reason: dict[str, int] = {}
    for status, reason, number in repository.status_counts(session, campaign.campaign_id):
        counts[status] = counts.get(status, 0) + number
        if status == "suppressed" and reason:
            by_reason[reason] = by_reason.get(reason, 0) + number
    return CampaignPublic(
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        subsidiary=campaign.subsidiary,
        segment=campaign.segment,
        template_id=campaign.template_id,
        purpose=campaign.purpose,
        channel=campaign.channel,
        scheduled_at=as_utc(campaign.scheduled_at),
        created_by=campaign.created_by,
        created_at=as_utc(campaign.created_at),
        counts=CampaignCounts(
            targeted=sum(counts.values()),
            queued=counts["queued"],
            sent=counts["sent"],
            failed=counts["failed"],
            suppressed=counts["suppressed"],
            suppressed_by_reason=by_reason,
        ),
    )


def _readable_campaign(
    session: Session, policy: PolicyEngine, principal: Principal, campaign_id: str
) -> OutreachCampaign:
    campaign = session.get(OutreachCampaign, campaign_id)
    decision = policy.decide(
        principal.subject, campaign.subsidiary if campaign else "-", CAMPAIGNS, "read", "L0"
    )
    audit(session, principal, decision, "read", CAMPAIGNS, None)
    if campaign is None or not decision.allowed:
        raise Forbidden("no access to this campaign", decision_id=decision.decision_id)
    return campaign


def get_campaign(
    session: Session, policy: PolicyEngine, principal: Principal, campaign_id: str
) -> CampaignPublic:
    """One campaign with its counts (a campaign you may not read and none at all: the same 403)."""
    return campaign_public(session, _readable_campaign(session, policy, principal, campaign_id))


def list_campaigns(
    session: Session, policy: PolicyEngine, principal: Principal, limit: int
) -> CampaignList:
    """The campaigns of the subsidiaries you may read, newest first."""
    _decide(session, policy, principal, principal.subsidiary, CAMPAIGNS, "list")
    items = [
        campaign_public(session, campaign)
        for campaign in repository.campaigns(session, limit)
        if policy.decide(principal.subject, campaign.subsidiary, CAMPAIGNS, "read", "L0").allowed
    ]
    return CampaignList(items=items)


# ------------------------------------------------------------------------------ messages


def message_public(message: OutreachMessage) -> MessagePublic:
    """A message's delivery status, its content as template and variables."""
    return MessagePublic(
        message_id=message.message_id,
        campaign_id=message.campaign_id,
        customer_id=message.customer_id,
        purpose=message.purpose,
        channel=message.channel,
        template_id=message.template_id,
        variables=json.loads(message.variables),
        status=message.status,
        reason=message.reason,
        due_at=as_utc(message.due_at),
        sent_at=as_utc(message.sent_at) if message.sent_at else None,
        attempts=message.attempts,
    )


def list_messages(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    campaign_id: str | None,
    customer_id: str | None,
    limit: int,
) -> MessageList:
    """Messages of a campaign or of a customer, with their delivery status."""
    if campaign_id:
        _readable_campaign(session, policy, principal, campaign_id)
    elif customer_id:
        customer = customers.get_customer(session, customer_id)
        domain = customer.subsidiary if customer else "-"
        decision = _decide(session, policy, principal, domain, MESSAGES, "read")
        if customer is None:
            raise Forbidden("no access to this customer", decision_id=decision.decision_id)
    else:
        raise ValidationFailed("name a campaign_id or a customer_id")
    found = repository.messages(session, campaign_id, customer_id, limit)
    return MessageList(items=[message_public(m) for m in found])


# ------------------------------------------------------------------------------ opt-outs


def _opt_out_public(row: OutreachOptOut) -> OptOutPublic:
    return OptOutPublic(
        customer_id=row.customer_id,
        purpose=row.purpose,
        recorded_by=row.recorded_by,
        created_at=as_utc(row.created_at),
    )


def list_opt_outs(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str
) -> OptOutList:
    """A customer's opt-outs (the customer in your call, or wider access)."""
    authorize(session, policy, principal, customer_id, OPT_OUTS, "read")
    return OptOutList(
        customer_id=customer_id,
        items=[_opt_out_public(row) for row in repository.opt_outs(session, customer_id)],
    )


def opt_out(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    purpose: str,
    now: datetime,
) -> OptOutPublic:
    """Record an opt-out of one purpose; queued messages of that purpose stop at once."""
    authorize(session, policy, principal, customer_id, OPT_OUTS, "create")
    if purpose == FRAUD_ALERT:
        raise ValidationFailed("fraud alerts are security notices; they cannot be opted out of")
    row = session.get(OutreachOptOut, (customer_id, purpose))
    if row is None:
        row = OutreachOptOut(
            customer_id=customer_id, purpose=purpose, recorded_by=principal.subject, created_at=now
        )
        session.add(row)
        session.flush()
    return _opt_out_public(row)


def opt_in(
    session: Session, policy: PolicyEngine, principal: Principal, customer_id: str, purpose: str
) -> None:
    """Withdraw an opt-out."""
    authorize(session, policy, principal, customer_id, OPT_OUTS, "delete")
    row = session.get(OutreachOptOut, (customer_id, purpose))
    if row is None:
        raise NotFound("no such opt-out")
    session.delete(row)
    session.flush()


# ------------------------------------------------------------------------------ reminder


def security_reminder(
    session: Session,
    policy: PolicyEngine,
    principal: Principal,
    customer_id: str,
    language: str,
    settings: ProfileSettings,
) -> SecurityReminder:
    """The call-center script for the customer's segment (a segment's own before the general)."""
    access = authorize(session, policy, principal, customer_id, REMINDER, "read")
    customer = access.customer
    segments = segments_of(customer, customers.preference_for(session, customer_id))
    scripts = [
        t
        for t in repository.templates(session, "security_education")
        if t.channel == "call_script" and t.language == language
    ]
    ranked = [(segments.index(t.segment), t) for t in scripts if t.segment in segments]
    chosen = min(ranked, key=lambda pair: pair[0])[1] if ranked else None
    segment = chosen.segment if chosen else None
    if chosen is None:
        chosen = next((t for t in scripts if t.segment is None), None)
        segment = "all"
    if chosen is None or segment is None:
        raise NotFound("no security reminder applies to this customer")
    text = render(chosen.body, variables_for(chosen, customer, settings))
    return SecurityReminder(
        customer_id=customer_id,
        segment=segment,
        template_id=chosen.template_id,
        language=chosen.language,
        text=text,
    )


# ------------------------------------------------------------------------------ fraud alerts


def _alert_channel(session: Session, customer: Customer) -> str | None:
    prefs = _preferences(customers.preference_for(session, customer.customer_id))
    has_app = repository.app_account(session, customer.customer_id) is not None
    if prefs.get("preferred_channel") == "app" and has_app:
        return "app_push"
    if customer.mobile:
        return "sms"
    return "app_push" if has_app else None


def _alert_template(session: Session, channel: str) -> OutreachTemplate | None:
    return next(
        (
            t
            for t in repository.templates(session, FRAUD_ALERT)
            if t.channel == channel and t.language == "zh-CN"
        ),
        None,
    )


def _alert(
    session: Session, event: FraudSignalEvent, now: datetime, settings: ProfileSettings
) -> OutreachMessage | None:
    customer = customers.get_customer(session, event.customer_id)
    if customer is None or customer.record_status == "erased":
        return None
    channel = _alert_channel(session, customer)
    template = _alert_template(session, channel) if channel else None
    zone = QuietHours.parse(settings.outreach_quiet_hours, settings.outreach_timezone).zone
    extra = {
        "event_time": as_utc(event.occurred_at).astimezone(zone).strftime("%m-%d %H:%M"),
        "event_kind": SIGNAL_WORDS["zh-CN"][event.signal],
    }
    message = OutreachMessage(
        message_id=f"msg-{uuid.uuid4().hex[:20]}",
        signal_id=event.event_id,
        customer_id=customer.customer_id,
        purpose=FRAUD_ALERT,
        channel=channel or "sms",
        template_id=template.template_id if template else "-",
        variables=json.dumps(
            variables_for(template, customer, settings, extra) if template else {},
            ensure_ascii=False,
            sort_keys=True,
        ),
        status="queued" if template else "failed",
        reason=None if template else ("no_template" if channel else "no_channel"),
        due_at=now,
        created_at=now,
    )
    session.add(message)
    if message.status == "failed":
        audit_message(session, message, allowed=False)
    return message


def record_signals(
    session: Session, events: list[FraudSignalEvent], now: datetime, settings: ProfileSettings
) -> FraudSignalsAccepted:
    """Store each new fraud signal and queue exactly one fraud alert for it."""
    accepted = duplicates = 0
    for event in events:
        if repository.signal(session, event.event_id) is not None:
            duplicates += 1
            continue
        message = _alert(session, event, now, settings)
        session.add(
            FraudSignal(
                event_id=event.event_id,
                customer_id=event.customer_id,
                signal=event.signal,
                call_session=event.call_session,
                occurred_at=event.occurred_at,
                received_at=now,
                message_id=message.message_id if message else None,
            )
        )
        session.flush()
        accepted += 1
    return FraudSignalsAccepted(accepted=accepted, duplicates=duplicates)
