"""The customer portrait, the household view and unmask, all as policy discloses them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ContactPointPublic(BaseModel):
    """A contact point as this caller may see it."""

    value: str | None
    source_channel: str
    first_seen: datetime
    registered: bool


class HoldingPublic(BaseModel):
    """A bank account or insurance policy as this caller may see it."""

    number: str | None
    product: str | None
    subsidiary: str
    status: str


class NotePublic(BaseModel):
    """An interaction note (numbers inside masked unless policy says plain)."""

    note_id: str
    author: str
    created_at: datetime
    text: str | None


class HouseholdMember(BaseModel):
    """A household member as seen from the customer in the call."""

    relation: str
    customer_id: str | None
    name: str | None
    birth_date: str | None
    subsidiary: str | None
    withheld: bool


class HouseholdView(BaseModel):
    """The household of one customer."""

    customer_id: str
    household_id: str | None
    role: str | None
    members: list[HouseholdMember]
    decision_id: str


class Portrait(BaseModel):
    """Everything the profile holds on one customer, as policy discloses it to this caller."""

    customer_id: str
    subsidiary: str | None
    record_status: str
    assurance_level: str
    identity: dict[str, str | None]
    contact_points: dict[str, list[ContactPointPublic]]
    bank_accounts: list[HoldingPublic]
    insurance_policies: list[HoldingPublic]
    segments: dict[str, Any]
    contact_preferences: dict[str, Any] | None
    notes: list[NotePublic]
    household: HouseholdView | None
    field_views: dict[str, str]
    decision_id: str
    policy_version: str


class UnmaskRequest(BaseModel):
    """Which fields to show plain, and why (the reason is audited)."""

    model_config = ConfigDict(extra="forbid")
    fields: list[str] = Field(min_length=1, max_length=10)
    reason: str = Field(min_length=10, max_length=300)


class UnmaskResult(BaseModel):
    """Plain values, for this caller only, to be discarded at `expires_at`."""

    customer_id: str
    values: dict[str, str | None]
    withheld: list[str]
    grant_id: str
    expires_at: datetime
    decision_id: str


class NoteCreate(BaseModel):
    """A new interaction note."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)
