"""What the voiceprint API returns and the internal consent-event API accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VerificationResult = Literal["match", "mismatch", "insufficient_audio"]
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,63}$"


class EnrollmentPublic(BaseModel):
    """An enrollment as the agent sees it: never the embedding."""

    enrollment_id: str
    customer_id: str
    utterances: int
    engine: str
    consent_id: str | None
    enrolled_at: datetime
    decision_id: str
    policy_version: str


class VerificationPublic(BaseModel):
    """The outcome of one verification attempt."""

    result: VerificationResult
    score: float | None = Field(description="cosine similarity to the enrolled voiceprint")
    threshold: float
    speech_seconds: float
    watchlist_hit: bool
    reason: str
    assurance_level: str | None = None
    decision_id: str
    policy_version: str


class WatchlistEntryPublic(BaseModel):
    """A watchlist entry: its reference label, never the embedding."""

    id: str
    label: str
    utterances: int
    engine: str
    added_by: str
    created_at: datetime


class WatchlistPublic(BaseModel):
    """The fraud voiceprint watchlist."""

    items: list[WatchlistEntryPublic]
    decision_id: str
    policy_version: str


class ConsentWithdrawnEvent(BaseModel):
    """One `consent.withdrawn` event from the consent service's outbox."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=64)
    customer_id: str = Field(min_length=1, max_length=32)
    purpose: str = Field(max_length=64)
    category: str = Field(max_length=64)
    recipient: str | None = Field(default=None, max_length=32)
    consent_id: str | None = Field(default=None, max_length=64)
    withdrawn_at: datetime | None = None


class ConsentEventBatch(BaseModel):
    """A batch of consent events."""

    model_config = ConfigDict(extra="forbid")

    events: list[ConsentWithdrawnEvent] = Field(max_length=500)


class ConsentEventsAccepted(BaseModel):
    """What the batch did: new events processed, duplicates ignored, voiceprints deleted."""

    accepted: int
    duplicates: int
    deleted: int
