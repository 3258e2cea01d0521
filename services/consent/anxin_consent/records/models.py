"""Consent records and the change counter (owned by the consent service alone).

`consent_record` is append-only: a grant, a withdrawal or an expiry is a new
row, never an edit, and database triggers refuse UPDATE and DELETE. What holds
now for a scope (customer, purpose, category, recipient) is its latest row.
`consent_epoch` is one counter row bumped in the same transaction as every new
record: each replica's check cache compares it on every check, so a withdrawal
committed anywhere empties every replica's cache at once (no TTL).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ConsentRecord(SQLModel, table=True):
    """One grant, withdrawal or expiry of one scope, with its evidence."""

    __tablename__ = "consent_record"
    __table_args__ = (
        sa.CheckConstraint(
            "action IN ('grant', 'withdraw', 'expire')", name="ck_consent_record_action"
        ),
        sa.CheckConstraint(
            "channel IN ('call', 'app', 'counter', 'ivr', 'system')",
            name="ck_consent_record_channel",
        ),
        sa.Index(
            "ix_consent_record_scope", "customer_id", "purpose", "category", "recipient", "seq"
        ),
    )

    seq: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(max_length=32, unique=True)
    customer_id: str = Field(max_length=32, index=True)
    customer_subsidiary: str = Field(max_length=16)
    action: str = Field(max_length=8)
    purpose: str = Field(max_length=64)
    category: str = Field(max_length=64)
    recipient: str = Field(max_length=16)
    notice_id: int = Field(foreign_key="consent_notice.id")
    notice_key: str = Field(max_length=64)
    notice_version: int
    notice_text_hash: str = Field(max_length=64)
    separate_consent: bool
    channel: str = Field(max_length=8)
    recording_ref: str | None = Field(default=None, max_length=128)
    recording_hash: str | None = Field(default=None, max_length=64)
    call_session: str | None = Field(default=None, max_length=64)
    evidence_ref: str | None = Field(default=None, max_length=128)
    operator: str = Field(max_length=128)
    operator_kind: str = Field(max_length=16)
    assurance_level: str = Field(max_length=2)
    decision_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )
    # Unique: a grant is ended (withdrawn or expired) at most once.
    ends_record_id: str | None = Field(default=None, max_length=32, unique=True)


class ConsentEpoch(SQLModel, table=True):
    """The one change counter every check reads (row id 1)."""

    __tablename__ = "consent_epoch"

    id: int = Field(primary_key=True)
    value: int = Field(sa_type=sa.BigInteger)  # type: ignore[call-overload]
