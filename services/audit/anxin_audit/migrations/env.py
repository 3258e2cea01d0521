"""Alembic environment for the audit service's own database."""

from sqlmodel import SQLModel

from anxin_audit.alerts.models import AuditAlert  # noqa: F401
from anxin_audit.checkpoints.models import AuditCheckpoint  # noqa: F401
from anxin_audit.events.models import AuditCursor, AuditRecord, ChainHead  # noqa: F401
from anxin_audit.ledger.models import AuditFinding, AuditInspection  # noqa: F401
from anxin_audit.retention.models import AuditArchive  # noqa: F401
from anxin_shared.db import run_alembic_env
from anxin_shared.outbox import OutboxEvent  # noqa: F401  (registers the table)

run_alembic_env(SQLModel.metadata)
