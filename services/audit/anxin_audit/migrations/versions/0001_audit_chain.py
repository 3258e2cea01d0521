"""The hash-chained audit trail, its head, and the outbox.

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
        "audit_record",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("producer", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False, index=True),
        sa.Column("domain", sa.String(32), nullable=True, index=True),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=True, index=True),
        sa.Column("request_id", sa.String(64), nullable=True, index=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("customer_ref", sa.String(64), nullable=True, index=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_chain_head",
        sa.Column("partition", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = sa.table(
        "audit_chain_head",
        sa.column("partition", sa.String),
        sa.column("seq", sa.BigInteger),
        sa.column("hash", sa.String),
    )
    op.bulk_insert(head, [{"partition": "main", "seq": 0, "hash": "0" * 64}])
    create_outbox_table(op)
    if op.get_bind().dialect.name == "postgresql":
        # Append-only, even for someone with the application's database role.
        op.execute("""
            CREATE FUNCTION anxin_audit_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit records are append-only';
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER audit_record_append_only
            BEFORE UPDATE OR DELETE ON audit_record
            FOR EACH ROW EXECUTE FUNCTION anxin_audit_refuse_change();
        """)
    else:
        op.execute("""
            CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
        """)
        op.execute("""
            CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
        """)


def downgrade() -> None:
    op.drop_table("outbox_event")
    op.drop_table("audit_chain_head")
    op.drop_table("audit_record")
