"""What the profile API returns: every field already masked by policy."""

from __future__ import annotations

from pydantic import BaseModel


class CustomerPublic(BaseModel):
    """A customer as this caller may see it; hidden fields are null."""

    customer_id: str
    subsidiary: str | None
    name: str | None
    gender: str | None
    birth_date: str | None
    id_type: str | None
    id_number: str | None
    mobile: str | None
    email: str | None
    address: str | None
    bank_account: str | None
    policy_number: str | None
    value_tier: str | None
    lifecycle_stage: str | None
    notes: str | None
    field_views: dict[str, str]
    decision_id: str
    policy_version: str


class CustomerPage(BaseModel):
    """A page of customers."""

    items: list[CustomerPublic]
    total: int
    limit: int
    offset: int
