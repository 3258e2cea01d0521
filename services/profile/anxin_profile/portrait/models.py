"""Unmask grants: each explicit, reasoned, short-lived disclosure of plain values."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UnmaskGrant(SQLModel, table=True):
    """One unmask: who, which customer and fields, why (numbers masked), until when."""

    __tablename__ = "profile_unmask_grant"

    grant_id: str = Field(primary_key=True, max_length=40)
    subject: str = Field(max_length=128, index=True)
    customer_id: str = Field(max_length=32, index=True)
    fields: str = Field(max_length=500)
    reason: str = Field(max_length=500)
    decision_id: str = Field(max_length=64)
    call_session: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
