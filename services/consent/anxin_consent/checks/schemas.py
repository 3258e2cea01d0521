"""The internal consent-check contract (profile, identity and the gateway call it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from anxin_consent.notices.schemas import Classification, PurposeCode, Subsidiary
from anxin_consent.records.schemas import CustomerId


class ConsentCheckRequest(BaseModel):
    """May this customer's data of `category` be processed for `purpose` by `recipient`?"""

    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    purpose: PurposeCode
    category: Classification
    recipient: Subsidiary


class ConsentCheckResult(BaseModel):
    """The answer, and the record and notice version it rests on."""

    allowed: bool
    consent_id: str | None
    notice_key: str | None
    notice_version: int | None
    reason: str


class ConsentCheckBatch(BaseModel):
    """Several checks answered from one read of the change counter."""

    model_config = ConfigDict(extra="forbid")

    checks: list[ConsentCheckRequest] = Field(min_length=1, max_length=64)


class ConsentCheckBatchResult(BaseModel):
    """One result per check, in order."""

    results: list[ConsentCheckResult]
