"""Call sessions and the audit outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from anxin_shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("agent", sa.String(128), nullable=False, index=True),
        sa.Column("subsidiary", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("attestation", sa.String(1), nullable=False),
        sa.Column("ani_masked", sa.String(32), nullable=False),
        sa.Column("ani_hash", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("assurance_level", sa.String(2), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name="ck_call_session_direction"
        ),
        sa.CheckConstraint("channel IN ('voice', 'video', 'ivr')", name="ck_call_session_channel"),
        sa.CheckConstraint("attestation IN ('A', 'B', 'C')", name="ck_call_session_attestation"),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'expired')", name="ck_call_session_status"
        ),
    )
    create_outbox_table(op)


def downgrade() -> None:
    op.drop_table("outbox_event")
    op.drop_table("call_session")
