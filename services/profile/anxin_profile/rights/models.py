"""PIPL rights requests: export, correction, deletion, each with its outcome and reason."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class RightsRequest(SQLModel, table=True):
    """One data subject's request and how it was decided."""

    __tablename__ = "profile_rights_request"

    request_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(max_length=32, index=True)
    subsidiary: str = Field(max_length=16, index=True)
    kind: str = Field(max_length=16)  # export | correction | deletion
    # pending | approved | rejected | completed | retained
    status: str = Field(max_length=16)
    field: str | None = Field(default=None, max_length=32)
    proposed_value: str | None = Field(default=None, max_length=256)
    reason: str = Field(max_length=500)
    outcome_reason: str | None = Field(default=None, max_length=500)
    retention_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    requested_by: str = Field(max_length=128)
    decided_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    decided_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
