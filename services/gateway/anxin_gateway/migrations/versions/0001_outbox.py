"""The gateway's audit outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

from anxin_shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table(op)


def downgrade() -> None:
    op.drop_table("outbox_event")
