"""Audit service settings (env prefix `ANXIN_AUDIT_`)."""

from __future__ import annotations

from anxin_shared.settings import ServiceSettings, settings_config


class AuditSettings(ServiceSettings):
    """The audit trail's settings."""

    model_config = settings_config("audit")

    service: str = "audit"
    max_batch: int = 500
