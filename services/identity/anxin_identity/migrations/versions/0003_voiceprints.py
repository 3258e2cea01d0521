"""Voiceprints: encrypted enrollments, the fraud watchlist, deletions on withdrawal.

Revision ID: 0003_voiceprints
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_voiceprints"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_enrollment",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("utterances", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=True),
        sa.Column("enrolled_by", sa.String(128), nullable=False),
        sa.Column("call_session_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_voice_enrollment_customer_id", "voice_enrollment", ["customer_id"], unique=True
    )
    op.create_table(
        "voice_watchlist_entry",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("engine", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("utterances", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "voice_deletion",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("enrollment_id", sa.String(64), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_voice_deletion_customer_id", "voice_deletion", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_voice_deletion_customer_id", table_name="voice_deletion")
    op.drop_table("voice_deletion")
    op.drop_table("voice_watchlist_entry")
    op.drop_index("ix_voice_enrollment_customer_id", table_name="voice_enrollment")
    op.drop_table("voice_enrollment")
