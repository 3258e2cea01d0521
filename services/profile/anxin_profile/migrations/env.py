"""Alembic environment for the profile service's own database."""

from sqlmodel import SQLModel

from anxin_profile.contacts.models import ContactPoint  # noqa: F401
from anxin_profile.customers.models import Customer, Holding, Note, Preference  # noqa: F401
from anxin_profile.outbound.models import CallList, DialReference  # noqa: F401
from anxin_profile.outreach.models import (  # noqa: F401
    FraudSignal,
    OutreachCampaign,
    OutreachMessage,
    OutreachOptOut,
    OutreachTemplate,
)
from anxin_profile.portrait.models import UnmaskGrant  # noqa: F401
from anxin_profile.quality.models import CommissionHold, QualityIssue, QualityRun  # noqa: F401
from anxin_profile.rights.models import RightsRequest  # noqa: F401
from anxin_profile.sharing.models import ConsentWithdrawal  # noqa: F401
from anxin_shared.db import run_alembic_env
from anxin_shared.outbox import OutboxEvent  # noqa: F401  (registers the table)

run_alembic_env(SQLModel.metadata)
