"""Outbound call lists and their single-use dial references."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CallList(SQLModel, table=True):
    """A campaign call list (its entries are dial references)."""

    __tablename__ = "profile_call_list"

    list_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    subsidiary: str = Field(max_length=16, index=True)
    created_by: str = Field(max_length=128)
    size: int = 0
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class DialReference(SQLModel, table=True):
    """A short-lived, single-use reference to a customer's number (only its hash is stored)."""

    __tablename__ = "profile_dial_reference"

    ref_hash: str = Field(primary_key=True, max_length=64)
    list_id: str = Field(max_length=40, index=True)
    customer_id: str = Field(max_length=32)
    subsidiary: str = Field(max_length=16)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    used_by: str | None = Field(default=None, max_length=128)
