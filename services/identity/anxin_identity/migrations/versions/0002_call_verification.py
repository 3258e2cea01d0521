"""Verification of call sessions: factor attempts, one-time codes, ANI watchlist.

Revision ID: 0002_call_verification
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_call_verification"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_session") as batch:
        # A call may arrive without STIR/SHAKEN attestation: that is a risk signal, not an error.
        batch.alter_column("attestation", existing_type=sa.String(1), nullable=True)
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("link_source", sa.String(16), nullable=True))
        batch.add_column(sa.Column("ani_customers", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("device_customers", sa.Text(), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("ani_watchlisted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "call_factor_attempt",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "call_session_id",
            sa.String(64),
            sa.ForeignKey("call_session.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("factor", sa.String(32), nullable=False),
        sa.Column("item", sa.String(64), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "call_one_time_code",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "call_session_id",
            sa.String(64),
            sa.ForeignKey("call_session.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "call_ani_watchlist",
        sa.Column("ani_hash", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_ani_watchlist")
    op.drop_table("call_one_time_code")
    op.drop_table("call_factor_attempt")
    with op.batch_alter_table("call_session") as batch:
        for column in (
            "ani_watchlisted",
            "device_customers",
            "ani_customers",
            "link_source",
            "closed_at",
            "version",
        ):
            batch.drop_column(column)
        batch.alter_column("attestation", existing_type=sa.String(1), nullable=False)
