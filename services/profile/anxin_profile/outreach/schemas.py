"""Outreach request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Purpose = Literal["security_education", "fraud_alert"]
Channel = Literal["sms", "app_push", "call_script"]
Language = Literal["zh-CN", "en"]
SEGMENT_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class TemplateCreate(BaseModel):
    """A new template: its body names only declared, known variables as `{name}`."""

    model_config = ConfigDict(extra="forbid")
    purpose: Purpose
    channel: Channel
    language: Language = "zh-CN"
    segment: str | None = Field(default=None, pattern=SEGMENT_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=1000)
    variables: list[str] = Field(default_factory=list, max_length=10)


class TemplatePublic(BaseModel):
    """A template."""

    template_id: str
    purpose: str
    channel: str
    language: str
    segment: str | None
    title: str | None
    body: str
    variables: list[str]
    created_by: str
    created_at: datetime


class TemplateList(BaseModel):
    """Templates, newest last."""

    items: list[TemplatePublic]


class CampaignCreate(BaseModel):
    """A campaign: one template to one segment of one subsidiary, now or at `scheduled_at`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    subsidiary: Literal["life", "pc", "bank"]
    segment: str = Field(pattern=SEGMENT_PATTERN)
    template_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    scheduled_at: datetime | None = None


class CampaignCounts(BaseModel):
    """How many of a campaign's messages are in each delivery status."""

    targeted: int
    queued: int
    sent: int
    failed: int
    suppressed: int
    suppressed_by_reason: dict[str, int]


class CampaignPublic(BaseModel):
    """A campaign and its delivery counts."""

    campaign_id: str
    name: str
    subsidiary: str
    segment: str
    template_id: str
    purpose: str
    channel: str
    scheduled_at: datetime
    created_by: str
    created_at: datetime
    counts: CampaignCounts


class CampaignList(BaseModel):
    """Campaigns, newest first."""

    items: list[CampaignPublic]


class MessagePublic(BaseModel):
    """One message's delivery status; its content is the template and variables."""

    message_id: str
    campaign_id: str | None
    customer_id: str
    purpose: str
    channel: str
    template_id: str
    variables: dict[str, str]
    status: str
    reason: str | None
    due_at: datetime
    sent_at: datetime | None
    attempts: int


class MessageList(BaseModel):
    """Messages, oldest first."""

    items: list[MessagePublic]


class OptOutPublic(BaseModel):
    """A customer's opt-out of one purpose."""

    customer_id: str
    purpose: str
    recorded_by: str
    created_at: datetime


class OptOutList(BaseModel):
    """A customer's opt-outs."""

    customer_id: str
    items: list[OptOutPublic]


class SecurityReminder(BaseModel):
    """The short security reminder the agent desktop shows after a successful verification."""

    customer_id: str
    segment: str
    template_id: str
    language: str
    text: str


class FraudSignalEvent(BaseModel):
    """A fraud signal identity reported about a customer's account."""

    model_config = ConfigDict(extra="ignore")
    event_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    customer_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    signal: Literal["voiceprint_watchlist", "verification_lockout", "spoofed_ani"]
    call_session: str | None = Field(default=None, max_length=64)
    occurred_at: datetime


class FraudSignalBatch(BaseModel):
    """A batch of fraud signals from identity's outbox relay."""

    events: list[FraudSignalEvent] = Field(max_length=500)


class FraudSignalsAccepted(BaseModel):
    """How many signals were new (an event seen before adds nothing)."""

    accepted: int
    duplicates: int
