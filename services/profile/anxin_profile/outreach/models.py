"""Outreach tables: templates, campaigns, messages (with delivery status), opt-outs, signals.

A message stores its content once, as a template id and variables (never a
rendered text, never an unmasked number); the text is rendered when it is sent.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

STATUSES = ("queued", "sent", "failed", "suppressed")


class OutreachTemplate(SQLModel, table=True):
    """A message template of one purpose, channel and language, with declared variables."""

    __tablename__ = "profile_outreach_template"

    template_id: str = Field(primary_key=True, max_length=40)
    purpose: str = Field(max_length=32, index=True)
    channel: str = Field(max_length=16)
    language: str = Field(max_length=8)
    # The customer segment a call-center script is meant for (None: every customer).
    segment: str | None = Field(default=None, max_length=32)
    title: str | None = Field(default=None, max_length=100)
    body: str = Field(max_length=1000)
    variables: str = Field(default="[]", max_length=500)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class OutreachCampaign(SQLModel, table=True):
    """A template sent to the opted-in customers of one segment of one subsidiary."""

    __tablename__ = "profile_outreach_campaign"

    campaign_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    subsidiary: str = Field(max_length=16)
    segment: str = Field(max_length=32)
    template_id: str = Field(max_length=40)
    purpose: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    scheduled_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class OutreachMessage(SQLModel, table=True):
    """One message to one customer and its delivery status (queued, sent, failed, suppressed)."""

    __tablename__ = "profile_outreach_message"

    message_id: str = Field(primary_key=True, max_length=40)
    campaign_id: str | None = Field(default=None, max_length=40, index=True)
    signal_id: str | None = Field(default=None, max_length=64)
    customer_id: str = Field(max_length=32, index=True)
    purpose: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    template_id: str = Field(max_length=40)
    variables: str = Field(default="{}", max_length=1000)
    status: str = Field(max_length=16, index=True)
    reason: str | None = Field(default=None, max_length=64)
    due_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    dispatched_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    sent_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    attempts: int = 0
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class OutreachOptOut(SQLModel, table=True):
    """A customer's opt-out of one purpose (honoured at every dispatch)."""

    __tablename__ = "profile_outreach_opt_out"

    customer_id: str = Field(primary_key=True, max_length=32)
    purpose: str = Field(primary_key=True, max_length=32)
    recorded_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class FraudSignal(SQLModel, table=True):
    """A fraud signal identity reported (stored once per event id: one alert per signal)."""

    __tablename__ = "profile_fraud_signal"

    event_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=32, index=True)
    signal: str = Field(max_length=32)
    call_session: str | None = Field(default=None, max_length=64)
    occurred_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    message_id: str | None = Field(default=None, max_length=40)
