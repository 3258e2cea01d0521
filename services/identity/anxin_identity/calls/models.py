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
    attestation: str | None = Field(default=None, max_length=1)
    ani_masked: str = Field(max_length=32)
    ani_hash: str = Field(max_length=64, index=True)
    status: str = Field(max_length=8)
    assurance_level: str = Field(max_length=2)
    customer_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    # Bumped on every change the gateway can see (level, customer, status): its cache key.
    version: int = 1
    closed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    # How the customer was linked: "ani" (the one registered match), "identifier" (the caller).
    link_source: str | None = Field(default=None, max_length=16)
    # Customer ids (not numbers) the ANI / the device matched at opening, as a JSON list.
    ani_customers: str = "[]"
    device_customers: str = "[]"
    ani_watchlisted: bool = False


class CallSessionChange(SQLModel, table=True):
    """One change of a call session that the gateway's lease on it must not outlive.

    Written in the same transaction as the change (`repository.save_call_session`);
    the gateway reads them in order (`GET /internal/v1/call-sessions/changes`).
    """

    __tablename__ = "call_session_change"

    id: int | None = Field(default=None, primary_key=True)
    call_session_id: str = Field(max_length=64)
    version: int
    changed_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)  # type: ignore[call-overload]


class CallFactorAttempt(SQLModel, table=True):
    """One attempt at a verification factor: what, for whom, whether it succeeded. No PII."""

    __tablename__ = "call_factor_attempt"

    id: int | None = Field(default=None, primary_key=True)
    call_session_id: str = Field(foreign_key="call_session.id", max_length=64, index=True)
    customer_id: str = Field(max_length=32, index=True)
    agent: str = Field(max_length=128)
    factor: str = Field(max_length=32)
    # What was attempted inside the factor (a question id, a code id), never an answer.
    item: str | None = Field(default=None, max_length=64)
    success: bool
    detail: str | None = None
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)  # type: ignore[call-overload]


class CallOneTimeCode(SQLModel, table=True):
    """A one-time code: only its keyed hash is stored; single-use; expires."""

    __tablename__ = "call_one_time_code"

    id: str = Field(primary_key=True, max_length=64)
    call_session_id: str = Field(foreign_key="call_session.id", max_length=64, index=True)
    customer_id: str = Field(max_length=32)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class CallAniWatchlist(SQLModel, table=True):
    """Numbers known for fraud, kept as the same keyed hash as the sessions' ANI."""

    __tablename__ = "call_ani_watchlist"

    ani_hash: str = Field(primary_key=True, max_length=64)
    label: str = Field(max_length=64)
    added_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
