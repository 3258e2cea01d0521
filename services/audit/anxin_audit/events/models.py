"""The hash-chained audit trail (owned by the audit service alone)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class AuditRecord(SQLModel, table=True):
    """One stored event: its place in the chain, the previous hash and its own."""

    __tablename__ = "audit_record"

    seq: int = Field(primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    producer: str = Field(max_length=32)
    occurred_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    recorded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    actor: str = Field(max_length=128, index=True)
    domain: str | None = Field(default=None, max_length=32, index=True)
    resource: str = Field(max_length=64)
    action: str = Field(max_length=32)
    allowed: bool
    decision_id: str | None = Field(default=None, max_length=64, index=True)
    request_id: str | None = Field(default=None, max_length=64, index=True)
    trace_id: str | None = Field(default=None, max_length=32)
    customer_ref: str | None = Field(default=None, max_length=64, index=True)
    body: str
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ChainHead(SQLModel, table=True):
    """The head of a chain partition: the one row every append locks."""

    __tablename__ = "audit_chain_head"

    partition: str = Field(primary_key=True, max_length=32)
    seq: int
    hash: str = Field(max_length=64)


class AuditCursor(SQLModel, table=True):
    """How far a background task (alert evaluation, anchor export) has read the chain."""

    __tablename__ = "audit_cursor"

    name: str = Field(primary_key=True, max_length=32)
    position: int
