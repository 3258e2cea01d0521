"""Gated sharing with subsidiary systems, and the consent events that stop it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ConsentWithdrawnEvent(BaseModel):
    """A `consent.withdrawn` event from the consent service's outbox.

    Unknown keys are ignored (not refused) so that the producer can add optional
    fields without its deliveries being retried forever.
    """

    model_config = ConfigDict(extra="ignore")
    event_id: str = Field(min_length=1, max_length=64)
    customer_id: str = Field(min_length=1, max_length=32)
    purpose: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    recipient: str | None = Field(default=None, max_length=64)
    consent_id: str | None = Field(default=None, max_length=64)
    withdrawn_at: datetime | None = None


class ConsentEventBatch(BaseModel):
    """A batch delivered by the outbox relay."""

    model_config = ConfigDict(extra="forbid")
    events: list[ConsentWithdrawnEvent] = Field(max_length=1000)


class ConsentEventsAccepted(BaseModel):
    """How many events were new (the rest were already stored)."""

    accepted: int
    duplicates: int


class SharedField(BaseModel):
    """One disclosed field, as policy lets this recipient see it."""

    value: str | None
    view: str
    classification: str
    consent_id: str | None


class SharingResponse(BaseModel):
    """What was disclosed, for which purpose, under which consents."""

    customer_id: str
    purpose: str
    recipient: str
    fields: dict[str, SharedField]
    withheld: dict[str, str]
    decision_id: str
    policy_version: str
