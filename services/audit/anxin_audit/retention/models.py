"""Archives: expired records moved out of the database, each with its signed checkpoint."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class AuditArchive(SQLModel, table=True):
    """Records up to `through_seq` were archived to `location`; checkpoint `checkpoint_no`
    signs the hash at `through_seq`, where the stored chain now begins."""

    __tablename__ = "audit_archive"

    archive_no: int = Field(primary_key=True)
    through_seq: int
    checkpoint_no: int
    records: int
    location: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
