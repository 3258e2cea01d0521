"""Queries on outreach templates, campaigns, messages, opt-outs and fraud signals."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from anxin_profile.contacts.models import ContactPoint
from anxin_profile.customers.models import Customer, Preference
from anxin_profile.outreach.models import (
    FraudSignal,
    OutreachCampaign,
    OutreachMessage,
    OutreachOptOut,
    OutreachTemplate,
)


def templates(session: Session, purpose: str | None = None) -> list[OutreachTemplate]:
    """Templates (of one purpose, if given), oldest first."""
    statement = select(OutreachTemplate).order_by(
        col(OutreachTemplate.created_at), col(OutreachTemplate.template_id)
    )
    if purpose:
        statement = statement.where(OutreachTemplate.purpose == purpose)
    return list(session.exec(statement).all())


def campaigns(session: Session, limit: int) -> list[OutreachCampaign]:
    """Campaigns, newest first."""
    statement = (
        select(OutreachCampaign)
        .order_by(col(OutreachCampaign.created_at).desc(), col(OutreachCampaign.campaign_id))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def status_counts(session: Session, campaign_id: str) -> list[tuple[str, str | None, int]]:
    """(status, reason, count) of a campaign's messages."""
    statement = (
        select(OutreachMessage.status, OutreachMessage.reason, sa.func.count())
        .where(OutreachMessage.campaign_id == campaign_id)
        .group_by(col(OutreachMessage.status), col(OutreachMessage.reason))
    )
    return [(str(s), r, int(n)) for s, r, n in session.exec(statement).all()]


def messages(
    session: Session, campaign_id: str | None, customer_id: str | None, limit: int
) -> list[OutreachMessage]:
    """Messages of a campaign and/or a customer, oldest first."""
    statement = select(OutreachMessage)
    if campaign_id:
        statement = statement.where(OutreachMessage.campaign_id == campaign_id)
    if customer_id:
        statement = statement.where(OutreachMessage.customer_id == customer_id)
    statement = statement.order_by(
        col(OutreachMessage.created_at), col(OutreachMessage.message_id)
    ).limit(limit)
    return list(session.exec(statement).all())


def due_messages(session: Session, now: datetime, limit: int) -> list[OutreachMessage]:
    """Queued messages not yet handed to the outbox whose time has come."""
    statement = (
        select(OutreachMessage)
        .where(OutreachMessage.status == "queued")
        .where(col(OutreachMessage.dispatched_at).is_(None))
        .where(OutreachMessage.due_at <= now)
        .order_by(col(OutreachMessage.due_at), col(OutreachMessage.message_id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(statement).all())


def dispatched_since(session: Session, customer_id: str, purpose: str, since: datetime) -> int:
    """How many messages of a purpose went to a customer's outbox since `since`."""
    statement = (
        select(sa.func.count())
        .select_from(OutreachMessage)
        .where(OutreachMessage.customer_id == customer_id)
        .where(OutreachMessage.purpose == purpose)
        .where(col(OutreachMessage.dispatched_at).is_not(None))
        .where(col(OutreachMessage.dispatched_at) >= since)
    )
    return int(session.exec(statement).one())


def opt_outs(session: Session, customer_id: str) -> list[OutreachOptOut]:
    """A customer's opt-outs."""
    statement = select(OutreachOptOut).where(OutreachOptOut.customer_id == customer_id)
    return list(session.exec(statement.order_by(col(OutreachOptOut.purpose))).all())


def opted_out(session: Session, customer_id: str, purpose: str) -> bool:
    """Whether the customer opted out of this purpose."""
    return session.get(OutreachOptOut, (customer_id, purpose)) is not None


def subsidiary_customers(
    session: Session, subsidiary: str
) -> list[tuple[Customer, Preference | None]]:
    """Active customers of a subsidiary with their tags and preferences."""
    statement = (
        select(Customer, Preference)
        .join(Preference, col(Preference.customer_id) == col(Customer.customer_id), isouter=True)
        .where(Customer.subsidiary == subsidiary, Customer.record_status == "active")
        .order_by(col(Customer.customer_id))
    )
    return [(customer, preference) for customer, preference in session.exec(statement).all()]


def tags_of(preference: Preference | None) -> list[str]:
    """A customer's tags."""
    if preference is None:
        return []
    tags = json.loads(preference.tags)
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def app_account(session: Session, customer_id: str) -> str | None:
    """The customer's app account, if any."""
    statement = select(ContactPoint.value).where(
        ContactPoint.customer_id == customer_id, ContactPoint.channel == "app_account"
    )
    return session.exec(statement.order_by(col(ContactPoint.first_seen))).first()


def signal(session: Session, event_id: str) -> FraudSignal | None:
    """A fraud signal already received."""
    return session.get(FraudSignal, event_id)
