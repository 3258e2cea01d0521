"""Consent withdrawals received from the consent service: sharing stops at once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ConsentWithdrawal(SQLModel, table=True):
    """One `consent.withdrawn` event (idempotent by event id)."""

    __tablename__ = "profile_consent_withdrawal"

    event_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=32, index=True)
    purpose: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    recipient: str | None = Field(default=None, max_length=64)
    consent_id: str | None = Field(default=None, max_length=64, index=True)
    withdrawn_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    received_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
