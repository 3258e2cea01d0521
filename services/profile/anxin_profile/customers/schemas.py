"""What the profile API takes and returns: every returned field already masked by policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Inputs are deliberately loose in shape (strings of bounded length) so that the
# domain validation can list every bad field in one 422.
_Text = Field(default=None, max_length=300)


class CustomerCreate(BaseModel):
    """A new customer of the caller's subsidiary."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=300)
    gender: str = Field(max_length=8)
    birth_date: str = Field(max_length=32)
    id_type: str = Field(default="resident_id", max_length=32)
    id_number: str = Field(max_length=64)
    mobile: str = Field(max_length=64)
    email: str | None = _Text
    address: str | None = _Text
    postcode: str | None = Field(default=None, max_length=32)
    bank_account: str | None = Field(default=None, max_length=64)
    policy_number: str | None = Field(default=None, max_length=64)
    value_tier: str = Field(default="standard", max_length=32)
    lifecycle_stage: str = Field(default="prospect", max_length=32)
    branch: str | None = Field(default=None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    source_channel: str = Field(default="call_center", max_length=32, pattern=r"^[a-z_]+$")


class CustomerUpdate(BaseModel):
    """A change to some fields of a customer (the merged record is validated)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=300)
    gender: str | None = Field(default=None, max_length=8)
    birth_date: str | None = Field(default=None, max_length=32)
    id_type: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=64)
    mobile: str | None = Field(default=None, max_length=64)
    email: str | None = _Text
    address: str | None = _Text
    postcode: str | None = Field(default=None, max_length=32)
    bank_account: str | None = Field(default=None, max_length=64)
    policy_number: str | None = Field(default=None, max_length=64)
    value_tier: str | None = Field(default=None, max_length=32)
    lifecycle_stage: str | None = Field(default=None, max_length=32)


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
    record_status: str = "active"
    field_views: dict[str, str]
    decision_id: str
    policy_version: str


class CustomerPage(BaseModel):
    """A page of customers."""

    items: list[CustomerPublic]
    total: int
    limit: int
    offset: int
