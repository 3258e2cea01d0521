"""Customer master and the audit outbox.

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
        "customer",
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("subsidiary", sa.String(16), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_type", sa.String(16), nullable=False),
        sa.Column("id_number", sa.String(32), nullable=False, unique=True),
        sa.Column("mobile", sa.String(20), nullable=False, index=True),
        sa.Column("email", sa.String(128), nullable=True),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column("bank_account", sa.String(32), nullable=True),
        sa.Column("policy_number", sa.String(32), nullable=True),
        sa.Column("value_tier", sa.String(16), nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("notes", sa.String(2000), nullable=True),
        sa.Column("household_id", sa.String(32), nullable=True, index=True),
        sa.Column("household_role", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_outbox_table(op)


def downgrade() -> None:
    op.drop_table("outbox_event")
    op.drop_table("customer")
