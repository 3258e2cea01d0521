"""Consent records (append-only), the check cache's change counter, notice lifecycle.

Notice versions become immutable in the database: their content columns refuse
UPDATE and no row may be deleted; only the status (draft → published →
retired) moves. Consent records refuse UPDATE and DELETE altogether, even for
someone holding the application's database role.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOTICE_CONTENT = (
    "notice_key",
    "version",
    "purpose",
    "purpose_code",
    "separate_consent",
    "categories",
    "recipients",
    "retention_days",
    "text_zh",
    "text_hash",
)
# The seeded notices of 0001's time, given the purpose codes and separate-consent
# flags they were written for (before the content is frozen below).
SEEDED = {
    "biometric-voiceprint": ("identity_verification", True),
    "life-to-bank-cross-sell": ("cross_sell", True),
    "marketing-contact-preferences": ("marketing", False),
}


def upgrade() -> None:
    op.add_column(
        "consent_notice",
        sa.Column("purpose_code", sa.String(64), nullable=False, server_default="unspecified"),
    )
    op.add_column(
        "consent_notice",
        sa.Column("separate_consent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("consent_notice", sa.Column("created_by", sa.String(128), nullable=True))
    op.add_column(
        "consent_notice", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True)
    )
    notice = sa.table(
        "consent_notice",
        sa.column("notice_key", sa.String),
        sa.column("purpose_code", sa.String),
        sa.column("separate_consent", sa.Boolean),
    )
    for key, (code, separate) in SEEDED.items():
        op.execute(
            notice.update()
            .where(notice.c.notice_key == key)
            .values(purpose_code=code, separate_consent=separate)
        )

    op.create_table(
        "consent_record",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(32), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("customer_subsidiary", sa.String(16), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("consent_notice.id"), nullable=False),
        sa.Column("notice_key", sa.String(64), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("notice_text_hash", sa.String(64), nullable=False),
        sa.Column("separate_consent", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recording_ref", sa.String(128), nullable=True),
        sa.Column("recording_hash", sa.String(64), nullable=True),
        sa.Column("call_session", sa.String(64), nullable=True),
        sa.Column("evidence_ref", sa.String(128), nullable=True),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("operator_kind", sa.String(16), nullable=False),
        sa.Column("assurance_level", sa.String(2), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        # A grant is ended (withdrawn or expired) at most once, whichever replica races.
        sa.Column("ends_record_id", sa.String(32), nullable=True, unique=True),
        sa.CheckConstraint(
            "action IN ('grant', 'withdraw', 'expire')", name="ck_consent_record_action"
        ),
        sa.CheckConstraint(
            "channel IN ('call', 'app', 'counter', 'ivr', 'system')",
            name="ck_consent_record_channel",
        ),
    )
    op.create_index(
        "ix_consent_record_scope",
        "consent_record",
        ["customer_id", "purpose", "category", "recipient", "seq"],
    )
    op.create_table(
        "consent_epoch",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    epoch = sa.table(
        "consent_epoch", sa.column("id", sa.Integer), sa.column("value", sa.BigInteger)
    )
    op.bulk_insert(epoch, [{"id": 1, "value": 0}])

    if op.get_bind().dialect.name == "postgresql":
        # Compared as text: PostgreSQL's json type has no equality operator.
        changed = " OR ".join(
            f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in NOTICE_CONTENT
        )
        op.execute(f"""
            CREATE FUNCTION anxin_consent_notice_fixed() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION 'consent notices are never deleted';
                END IF;
                IF {changed} THEN
                    RAISE EXCEPTION 'a notice version is immutable; write a new version';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER consent_notice_immutable
            BEFORE UPDATE OR DELETE ON consent_notice
            FOR EACH ROW EXECUTE FUNCTION anxin_consent_notice_fixed();
        """)
        op.execute("""
            CREATE FUNCTION anxin_consent_record_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'consent records are append-only';
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER consent_record_append_only
            BEFORE UPDATE OR DELETE ON consent_record
            FOR EACH ROW EXECUTE FUNCTION anxin_consent_record_refuse_change();
        """)
    else:
        op.execute(f"""
            CREATE TRIGGER consent_notice_content_fixed
            BEFORE UPDATE OF {", ".join(NOTICE_CONTENT)} ON consent_notice
            BEGIN SELECT RAISE(ABORT, 'a notice version is immutable; write a new version'); END;
        """)
        op.execute("""
            CREATE TRIGGER consent_notice_no_delete BEFORE DELETE ON consent_notice
            BEGIN SELECT RAISE(ABORT, 'consent notices are never deleted'); END;
        """)
        op.execute("""
            CREATE TRIGGER consent_record_no_update BEFORE UPDATE ON consent_record
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        """)
        op.execute("""
            CREATE TRIGGER consent_record_no_delete BEFORE DELETE ON consent_record
            BEGIN SELECT RAISE(ABORT, 'consent records are append-only'); END;
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_record_append_only ON consent_record")
        op.execute("DROP FUNCTION IF EXISTS anxin_consent_record_refuse_change()")
        op.execute("DROP TRIGGER IF EXISTS consent_notice_immutable ON consent_notice")
        op.execute("DROP FUNCTION IF EXISTS anxin_consent_notice_fixed()")
    else:
        for name in (
            "consent_record_no_delete",
            "consent_record_no_update",
            "consent_notice_no_delete",
            "consent_notice_content_fixed",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("consent_epoch")
    op.drop_index("ix_consent_record_scope", table_name="consent_record")
    op.drop_table("consent_record")
    with op.batch_alter_table("consent_notice") as batch:
        for column in ("retired_at", "created_by", "separate_consent", "purpose_code"):
            batch.drop_column(column)
