"""Signed checkpoints, archives (retention), anomaly alerts and the internal-audit ledger.

Revision ID: 0002_audit
Revises: 0001
Create Date: 2026-11-26

Deleting audit records stays refused, except for records an archive covers:
an archive row is written together with its signed checkpoint, so the chain
still verifies from that checkpoint onwards. Checkpoints and archive rows are
append-only themselves.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("checkpoint_no", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("partition", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, index=True),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("taken_at", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    op.create_table(
        "audit_archive",
        sa.Column("archive_no", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_no", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "audit_cursor",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "audit_alert",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("rule", sa.String(48), nullable=False, index=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True, index=True),
        sa.Column("subsidiary", sa.String(32), nullable=True, index=True),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.Column("acknowledged_at", TZ, nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalated_by", sa.String(128), nullable=True),
        sa.Column("escalated_at", TZ, nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
    )
    op.create_table(
        "audit_inspection",
        sa.Column("inspection_id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("subsidiary", sa.String(32), nullable=False, index=True),
        sa.Column("inspection_date", sa.Date(), nullable=False),
        sa.Column("inspector", sa.String(128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "audit_finding",
        sa.Column("finding_id", sa.String(32), primary_key=True),
        sa.Column(
            "inspection_id",
            sa.String(32),
            sa.ForeignKey("audit_inspection.inspection_id"),
            nullable=False,
            index=True,
        ),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("responsible_role", sa.String(64), nullable=False),
        sa.Column("responsible_subsidiary", sa.String(32), nullable=False, index=True),
        sa.Column("deadline", sa.Date(), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
    )
    op.create_index("ix_audit_record_occurred_at", "audit_record", ["occurred_at"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION anxin_audit_refuse_change() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_record' AND OLD.seq <= (
                    SELECT COALESCE(MAX(through_seq), 0) FROM audit_archive
                ) THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION 'audit records are append-only';
            END;
            $$ LANGUAGE plpgsql;
        """)
        for table in ("audit_checkpoint", "audit_archive"):
            op.execute(f"""
                CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION anxin_audit_refuse_change();
            """)
    else:
        op.execute("DROP TRIGGER audit_record_no_delete")
        op.execute("""
            CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
            WHEN OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM audit_archive)
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
        """)
        for table in ("audit_checkpoint", "audit_archive"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
            """)
            op.execute(f"""
                CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
            """)


def downgrade() -> None:
    op.drop_index("ix_audit_record_occurred_at", "audit_record")
    for table in (
        "audit_finding",
        "audit_inspection",
        "audit_alert",
        "audit_cursor",
        "audit_archive",
        "audit_checkpoint",
    ):
        op.drop_table(table)
