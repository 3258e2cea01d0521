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
    postcode: str | None = Field(default=None, max_length=6)
    # Who answers for the record's quality: the branch and the servicing agent.
    branch: str | None = Field(default=None, max_length=32)
    servicing_agent: str | None = Field(default=None, max_length=64)
    # active | suspended (a data-quality deadline passed) | erased (PIPL deletion)
    record_status: str = Field(default="active", max_length=16)
    status_reason: str | None = Field(default=None, max_length=200)


class Holding(SQLModel, table=True):
    """A product a customer holds: a bank account or an insurance policy (a business record)."""

    __tablename__ = "profile_holding"

    holding_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=24)  # bank_account | insurance_policy
    number: str = Field(max_length=32)
    product: str = Field(max_length=64)
    subsidiary: str = Field(max_length=16)
    status: str = Field(default="active", max_length=16)  # active | suspended | closed
    status_reason: str | None = Field(default=None, max_length=200)
    opened_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class Note(SQLModel, table=True):
    """A free-text interaction note (numbers inside are masked on read)."""

    __tablename__ = "profile_note"

    note_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(max_length=32, index=True)
    author: str = Field(max_length=128)
    text: str = Field(max_length=2000)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class Preference(SQLModel, table=True):
    """Tags, segments and contact preferences of one customer (JSON text)."""

    __tablename__ = "profile_preference"

    customer_id: str = Field(primary_key=True, max_length=32)
    tags: str = Field(default="[]", max_length=1000)
    contact_preferences: str = Field(default="{}", max_length=1000)
