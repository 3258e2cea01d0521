"""Outbound campaign lists (masked numbers, dial references) and dial resolution."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CallListCreate(BaseModel):
    """A campaign call list over a segment of your subsidiary's customers."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    value_tier: str | None = Field(default=None, pattern=r"^(standard|gold|platinum)$")
    lifecycle_stage: str | None = Field(default=None, pattern=r"^(prospect|active|dormant)$")
    limit: int = Field(default=20, ge=1, le=100)


class CallListEntry(BaseModel):
    """One customer to call: masked number and a single-use dial reference."""

    customer_id: str
    name: str | None
    mobile: str | None
    dial_ref: str
    expires_at: datetime


class CallListPublic(BaseModel):
    """A call list."""

    list_id: str
    name: str
    subsidiary: str
    entries: list[CallListEntry]
    decision_id: str


class DialResolution(BaseModel):
    """The number to dial (for the telephony platform only; the reference is now spent)."""

    number: str
    customer_id: str
    list_id: str
