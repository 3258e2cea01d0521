"""PIPL rights: export, correction requests, deletion requests."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from anxin_profile.portrait.schemas import Portrait

CORRECTABLE = r"^(name|gender|birth_date|id_number|mobile|email|address|postcode)$"


class CorrectionCreate(BaseModel):
    """The customer asks to correct one field."""

    model_config = ConfigDict(extra="forbid")
    field: str = Field(pattern=CORRECTABLE)
    new_value: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=2, max_length=500)


class DeletionCreate(BaseModel):
    """The customer asks for deletion."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=500)


class RequestDecision(BaseModel):
    """The back office's decision on a correction request."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: str = Field(min_length=2, max_length=500)


class RightsRequestPublic(BaseModel):
    """A rights request and its outcome (a proposed value is shown masked as policy says)."""

    request_id: str
    customer_id: str
    kind: str
    status: str
    field: str | None
    proposed_value: str | None
    reason: str
    outcome_reason: str | None
    retention_until: datetime | None
    requested_by: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


class CustomerExport(BaseModel):
    """A copy of one customer's data, as policy lets this operator hand it over."""

    request_id: str
    generated_at: datetime
    portrait: Portrait
    rights_requests: list[RightsRequestPublic]
