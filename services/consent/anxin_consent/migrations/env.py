"""Alembic environment for the consent service's own database."""

from sqlmodel import SQLModel

from anxin_consent.notices.models import ConsentNotice  # noqa: F401
from anxin_consent.records.models import ConsentEpoch, ConsentRecord  # noqa: F401
from anxin_shared.db import run_alembic_env
from anxin_shared.outbox import OutboxEvent  # noqa: F401  (registers the table)

run_alembic_env(SQLModel.metadata)
