"""Call-session changes: the feed the gateway's call-session leases are invalidated from.

Also joins the two heads (verification, voiceprints) into one.

Revision ID: 0004_call_session_changes
Revises: 0002_call_verification, 0003_voiceprints
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_call_session_changes"
down_revision = ("0002_call_verification", "0003_voiceprints")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_session_change",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_session_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_call_session_change_changed_at", "call_session_change", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_call_session_change_changed_at", table_name="call_session_change")
    op.drop_table("call_session_change")
