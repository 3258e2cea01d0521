"""Voiceprint tables (identity's own database). Embeddings are stored only encrypted."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class VoiceEnrollment(SQLModel, table=True):
    """A customer's enrolled voiceprint: one per customer, replaced by re-enrollment."""

    __tablename__ = "voice_enrollment"

    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=32, unique=True, index=True)
    subsidiary: str = Field(max_length=16)
    engine: str = Field(max_length=32)
    key_id: str = Field(max_length=32)
    # AES-GCM nonce || ciphertext of the float32 centroid, bound to (table, id, customer).
    embedding: bytes = Field(sa_type=sa.LargeBinary())  # type: ignore[call-overload]
    utterances: int
    consent_id: str | None = Field(default=None, max_length=64)
    enrolled_by: str = Field(max_length=128)
    call_session_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class VoiceWatchlistEntry(SQLModel, table=True):
    """A known fraudster's voiceprint. The label is a case reference, never a name."""

    __tablename__ = "voice_watchlist_entry"

    id: str = Field(primary_key=True, max_length=64)
    label: str = Field(max_length=64)
    engine: str = Field(max_length=32)
    key_id: str = Field(max_length=32)
    embedding: bytes = Field(sa_type=sa.LargeBinary())  # type: ignore[call-overload]
    utterances: int
    added_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class VoiceDeletion(SQLModel, table=True):
    """A voiceprint deletion, and the consent event that asked for it (idempotency key)."""

    __tablename__ = "voice_deletion"

    event_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=32, index=True)
    consent_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=32)
    # The deleted enrollment, or None when there was nothing to delete.
    enrollment_id: str | None = Field(default=None, max_length=64)
    withdrawn_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    deleted_at: datetime = Field(sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
