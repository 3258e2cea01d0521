"""Outreach: message templates, campaigns, messages with delivery status, opt-outs, signals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "profile_outreach_template",
        sa.Column("template_id", sa.String(40), primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("segment", sa.String(32), nullable=True),
        sa.Column("title", sa.String(100), nullable=True),
        sa.Column("body", sa.String(1000), nullable=False),
        sa.Column("variables", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "profile_outreach_campaign",
        sa.Column("campaign_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False),
        sa.Column("segment", sa.String(32), nullable=False),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        _ts("scheduled_at"),
        sa.Column("created_by", sa.String(128), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "profile_outreach_message",
        sa.Column("message_id", sa.String(40), primary_key=True),
        sa.Column("campaign_id", sa.String(40), nullable=True, index=True),
        sa.Column("signal_id", sa.String(64), nullable=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("variables", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, index=True),
        _ts("dispatched_at", nullable=True),
        _ts("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
    )
    op.create_table(
        "profile_outreach_opt_out",
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "profile_fraud_signal",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("call_session", sa.String(64), nullable=True),
        _ts("occurred_at"),
        _ts("received_at"),
        sa.Column("message_id", sa.String(40), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "profile_fraud_signal",
        "profile_outreach_opt_out",
        "profile_outreach_message",
        "profile_outreach_campaign",
        "profile_outreach_template",
    ):
        op.drop_table(table)
