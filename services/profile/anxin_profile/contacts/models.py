"""Contact points: every way a customer reaches the group, with its source and first sighting."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

CHANNELS = ("mobile", "email", "address", "device", "app_account")


class ContactPoint(SQLModel, table=True):
    """One contact point of one customer (a number, an address, a device, an app account)."""

    __tablename__ = "profile_contact_point"

    contact_id: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(max_length=32, index=True)
    channel: str = Field(max_length=16)
    value: str = Field(max_length=256)
    # The normalised form used for matching (a mobile without country code, a lowercased device id).
    match_key: str = Field(max_length=256, index=True)
    source_channel: str = Field(max_length=32)
    registered: bool = False
    first_seen: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
