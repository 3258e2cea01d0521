"""Audit API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from anxin_shared.audit_event import AuditEvent

HASH_PATTERN = r"^[0-9a-f]{64}$"


class EventBatch(BaseModel):
    """A batch from a producer's outbox."""

    model_config = ConfigDict(extra="forbid")
    events: list[AuditEvent] = Field(max_length=500)


class IngestResult(BaseModel):
    """How many events were stored, and how many were already there."""

    stored: int
    duplicates: int
    head_seq: int


class AuditRecordPublic(BaseModel):
    """A stored event with its place in the chain."""

    seq: int
    hash: str
    prev_hash: str
    event: dict[str, Any]


class AuditPage(BaseModel):
    """A page of the trail."""

    items: list[AuditRecordPublic]
    next_after_seq: int | None


class AccessSummary(BaseModel):
    """One operator's or system's accesses to a customer."""

    actor: str
    actor_kind: str
    roles: list[str]
    actor_subsidiary: str | None
    accesses: int
    denied: int
    actions: list[str]
    first_at: datetime
    last_at: datetime


class CustomerAccesses(BaseModel):
    """Who accessed this customer's data: per actor, then the events themselves."""

    customer_id: str
    actors: list[AccessSummary]
    items: list[AuditRecordPublic]
    next_after_seq: int | None


class CheckpointPublic(BaseModel):
    """A signed checkpoint, as stored, exported and anchored."""

    model_config = ConfigDict(extra="forbid")

    checkpoint_no: int = Field(ge=1)
    partition: str = Field(max_length=32)
    seq: int = Field(ge=0)
    head_hash: str = Field(pattern=HASH_PATTERN)
    taken_at: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    key_id: str = Field(max_length=32)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")


class AttestationRequest(BaseModel):
    """A signed document to attest: its kind, SHA-256 and signing key; never its content."""

    model_config = ConfigDict(extra="forbid")

    document_kind: Literal["compliance_report"]
    document_sha256: str = Field(pattern=HASH_PATTERN)
    key_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class AttestationPublic(BaseModel):
    """Where the attestation sits on the chain."""

    event_id: str
    seq: int
    hash: str
    document_kind: str
    document_sha256: str
    key_id: str


class ChainVerification(BaseModel):
    """The result of verifying the chain (or a range of it)."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    checkpoints_verified: int = 0
    start_seq: int = 1
    chain_head_seq: int = 0
    archived_through_seq: int = 0


class ChainVerifyRequest(BaseModel):
    """Verify against external anchors (checkpoints security staff keep elsewhere)."""

    model_config = ConfigDict(extra="forbid")

    checkpoints: list[CheckpointPublic] = Field(min_length=1, max_length=1000)


class ChainRecord(BaseModel):
    """One record as exported: what the hash covers, and the hashes."""

    seq: int
    prev_hash: str
    hash: str
    body: str


class ChainExport(BaseModel):
    """A page of the chain for an offline copy, with the checkpoints in its range."""

    start: CheckpointPublic | None
    records: list[ChainRecord]
    checkpoints: list[CheckpointPublic]
    head_seq: int
    next_after_seq: int | None
    public_key_pem: str


class CheckpointList(BaseModel):
    """The newest checkpoints."""

    items: list[CheckpointPublic]
    public_key_pem: str
