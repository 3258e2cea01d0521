"""The customer master table (owned by the profile service alone)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Customer(SQLModel, table=True):
    """One customer of one subsidiary, with identity, contact and product numbers."""

    __tablename__ = "customer"

    customer_id: str = Field(primary_key=True, max_length=32)
    subsidiary: str = Field(max_length=16, index=True)
    name: str = Field(max_length=64)
    gender: str = Field(max_length=1)
    birth_date: date
    id_type: str = Field(max_length=16)
    id_number: str = Field(max_length=32, unique=True)
    mobile: str = Field(max_length=20, index=True)
    email: str | None = Field(default=None, max_length=128)
    address: str | None = Field(default=None, max_length=256)
    bank_account: str | None = Field(default=None, max_length=32)
    policy_number: str | None = Field(default=None, max_length=32)
    value_tier: str = Field(max_length=16)
    lifecycle_stage: str = Field(max_length=16)
    notes: str | None = Field(default=None, max_length=2000)
    household_id: str | None = Field(default=None, max_length=32, index=True)
    household_role: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
