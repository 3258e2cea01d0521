"""Portrait (holdings, notes, preferences), unmask grants, outbound, data quality, PIPL rights.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("postcode", sa.String(6), nullable=True))
        batch.add_column(sa.Column("branch", sa.String(32), nullable=True))
        batch.add_column(sa.Column("servicing_agent", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("record_status", sa.String(16), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("status_reason", sa.String(200), nullable=True))
    op.create_table(
        "profile_holding",
        sa.Column("holding_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(200), nullable=True),
        _ts("opened_at"),
    )
    op.create_table(
        "profile_note",
        sa.Column("note_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "profile_preference",
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("tags", sa.String(1000), nullable=False),
        sa.Column("contact_preferences", sa.String(1000), nullable=False),
    )
    op.create_table(
        "profile_unmask_grant",
        sa.Column("grant_id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(128), nullable=False, index=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("fields", sa.String(500), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("call_session", sa.String(64), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
    )
    op.create_table(
        "profile_call_list",
        sa.Column("list_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False, index=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "profile_dial_reference",
        sa.Column("ref_hash", sa.String(64), primary_key=True),
        sa.Column("list_id", sa.String(40), nullable=False, index=True),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        sa.Column("used_by", sa.String(128), nullable=True),
    )
    op.create_table(
        "profile_quality_run",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cursor", sa.String(32), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issues_opened", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(128), nullable=False),
        _ts("started_at"),
        _ts("updated_at"),
        _ts("finished_at", nullable=True),
    )
    op.create_table(
        "profile_quality_issue",
        sa.Column("issue_id", sa.String(40), primary_key=True),
        sa.Column("fingerprint", sa.String(128), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False, index=True),
        sa.Column("branch", sa.String(32), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        _ts("opened_at"),
        _ts("deadline"),
        _ts("fixed_at", nullable=True),
        _ts("overdue_at", nullable=True),
    )
    op.create_table(
        "profile_commission_hold",
        sa.Column("hold_id", sa.String(40), primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False, index=True),
        sa.Column("issue_id", sa.String(40), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("subsidiary", sa.String(16), nullable=False),
        _ts("held_at"),
        _ts("released_at", nullable=True),
    )
    op.create_table(
        "profile_rights_request",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("subsidiary", sa.String(16), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("field", sa.String(32), nullable=True),
        sa.Column("proposed_value", sa.String(256), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("outcome_reason", sa.String(500), nullable=True),
        _ts("retention_until", nullable=True),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        _ts("created_at"),
        _ts("decided_at", nullable=True),
    )


def downgrade() -> None:
    for table in (
        "profile_rights_request",
        "profile_commission_hold",
        "profile_quality_issue",
        "profile_quality_run",
        "profile_dial_reference",
        "profile_call_list",
        "profile_unmask_grant",
        "profile_preference",
        "profile_note",
        "profile_holding",
    ):
        op.drop_table(table)
    with op.batch_alter_table("customer") as batch:
        for column in ("status_reason", "record_status", "servicing_agent", "branch", "postcode"):
            batch.drop_column(column)
