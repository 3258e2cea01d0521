"""Audit API schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from anxin_shared.audit_event import AuditEvent


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


class ChainVerification(BaseModel):
    """The result of verifying the whole chain."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
