"""The call-session table (owned by the identity service alone).

The caller's number is kept only masked and as a hash: the raw ANI never
reaches the database.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CallSession(SQLModel, table=True):
    """One call, opened by one agent of one subsidiary, at an assurance level."""

    __tablename__ = "call_session"
    __table_args__ = (
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name="ck_call_session_direction"
        ),
        sa.CheckConstraint("channel IN ('voice', 'video', 'ivr')", name="ck_call_session_channel"),
        sa.CheckConstraint("attestation IN ('A', 'B', 'C')", name="ck_call_session_attestation"),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'expired')", name="ck_call_session_status"
        ),
    )

    id: str = Field(primary_key=True, max_length=64)
    agent: str = Field(max_length=128, index=True)
    subsidiary: str = Field(max_length=16)
    direction: str = Field(max_length=8)
    channel: str = Field(max_length=8)
    attestation: str = Field(max_length=1)
    ani_masked: str = Field(max_length=32)
    ani_hash: str = Field(max_length=64, index=True)
    status: str = Field(max_length=8)
    assurance_level: str = Field(max_length=2)
    customer_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
