"""The consent-notice table (owned by the consent service alone).

A notice is versioned: the text a customer agreed to is identified by
(notice_key, version) and pinned by the SHA-256 of that text, so a consent
record can later prove exactly what the customer was told. Once written, a
version's content never changes (database triggers refuse it); only its
status moves, draft → published → retired.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ConsentNotice(SQLModel, table=True):
    """One version of one notice: purpose, data categories, recipients, retention, text."""

    __tablename__ = "consent_notice"
    __table_args__ = (
        sa.UniqueConstraint("notice_key", "version", name="uq_consent_notice_key_version"),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'retired')", name="ck_consent_notice_status"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    notice_key: str = Field(max_length=64, index=True)
    version: int
    purpose: str = Field(max_length=500)
    purpose_code: str = Field(default="unspecified", max_length=64)
    separate_consent: bool = False
    categories: list[str] = Field(sa_type=sa.JSON)  # type: ignore[call-overload]
    recipients: list[str] = Field(sa_type=sa.JSON)  # type: ignore[call-overload]
    retention_days: int
    text_zh: str = Field(sa_type=sa.Text)  # type: ignore[call-overload]
    text_hash: str = Field(max_length=64)
    status: str = Field(max_length=16, index=True)
    published_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )
    created_by: str | None = Field(default=None, max_length=128)
    retired_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )
