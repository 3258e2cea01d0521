"""What the consent-record API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from anxin_consent.notices.schemas import Classification, NoticeKey, PurposeCode, Subsidiary

CustomerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Channel = Literal["call", "app", "counter", "ivr"]
RecordAction = Literal["grant", "withdraw", "expire"]
# SHA-256 of the recording segment in which the customer spoke, as the telephony computed it.
RecordingHash = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
EvidenceRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")]


class _Evidence(BaseModel):
    """How the customer expressed their will.

    On a call (`channel="call"`) the call session and the recording reference
    come from the verified call itself, never from the body; the desktop sends
    the recording segment's hash. Other channels (app, counter, IVR keypress) are
    recorded by the subsidiary system that collected them, with its own
    evidence reference (receipt, form scan, keypress log).
    """

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    recording_hash: RecordingHash | None = None
    evidence_ref: EvidenceRef | None = None

    @field_validator("recording_hash")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @model_validator(mode="after")
    def _evidence_for_channel(self) -> _Evidence:
        if self.channel == "call" and self.recording_hash is None:
            raise ValueError("a consent given on a call needs the recording's hash")
        if self.channel != "call" and self.evidence_ref is None:
            raise ValueError(f"a consent given by {self.channel} needs an evidence reference")
        return self


class ConsentGrantCreate(_Evidence):
    """A customer agrees to one scope of one published notice version."""

    customer_id: CustomerId
    notice_key: NoticeKey
    notice_version: int = Field(ge=1, le=1_000_000)
    category: Classification
    recipient: Subsidiary


class ConsentWithdrawalCreate(_Evidence):
    """A customer withdraws the consent that holds for one scope."""

    customer_id: CustomerId
    purpose: PurposeCode
    category: Classification
    recipient: Subsidiary


class ConsentRecordPublic(BaseModel):
    """One record of the append-only history, with its evidence."""

    record_id: str
    seq: int
    customer_id: str
    action: RecordAction
    purpose: str
    category: str
    recipient: str
    notice_key: str
    notice_version: int
    notice_text_hash: str
    separate_consent: bool
    channel: str
    recording_ref: str | None
    recording_hash: str | None
    call_session: str | None
    evidence_ref: str | None
    operator: str
    assurance_level: str
    recorded_at: datetime
    expires_at: datetime | None
    ends_record_id: str | None


class ConsentRecordChange(BaseModel):
    """A record just written, with the decision that allowed it."""

    record: ConsentRecordPublic
    decision_id: str
    policy_version: str


class ConsentState(BaseModel):
    """What holds now for one scope: its latest record."""

    purpose: str
    category: str
    recipient: str
    status: Literal["granted", "withdrawn", "expired"]
    record_id: str
    notice_key: str
    notice_version: int
    since: datetime
    expires_at: datetime | None


class ConsentStatePage(BaseModel):
    """The current state of every scope a customer ever consented to."""

    customer_id: str
    items: list[ConsentState]
    decision_id: str
    policy_version: str


class NoticeText(BaseModel):
    """The exact text a record points to, and whether it still matches the pinned hash."""

    notice_key: str
    version: int
    purpose: str
    text_zh: str
    text_hash: str
    hash_verified: bool


class ExportedRecord(ConsentRecordPublic):
    """A history entry in the customer's copy, with the full notice text."""

    notice: NoticeText


class CustomerConsentExport(BaseModel):
    """The customer's copy (PIPL Art. 45): the complete history and what holds now."""

    customer_id: str
    exported_at: datetime
    records: list[ExportedRecord]
    current: list[ConsentState]
    decision_id: str
    policy_version: str
