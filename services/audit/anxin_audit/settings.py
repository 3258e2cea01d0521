"""Audit service settings (env prefix `ANXIN_AUDIT_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from anxin_audit.checkpoints.signing import KEY_NAME
from anxin_shared.settings import ConfigurationError, ServiceSettings, settings_config


class AuditSettings(ServiceSettings):
    """The audit trail's settings."""

    model_config = settings_config("audit")

    service: str = "audit"
    max_batch: int = 500
    # A signed checkpoint every N events or T seconds, whichever comes first.
    checkpoint_every_events: int = 1000
    checkpoint_every_seconds: float = 60.0
    # Ed25519 key; dev generates `<keys>/audit-checkpoint.ed25519.pem`, prod refuses
    # to start without it.
    checkpoint_key_file: Path | None = None
    # External anchors: every checkpoint is appended to this file and/or POSTed to this URL.
    anchor_file: Path | None = None
    anchor_url: str | None = None
    # Retention: records older than this may be archived (with a signed checkpoint).
    retention_days: int = 1825
    archive_dir: Path | None = None
    # Anomaly alerts: rules file and how often new records are evaluated.
    alerts_file: Path | None = None
    alert_interval_seconds: float = 1.0

    @model_validator(mode="after")
    def _fill_audit_defaults(self) -> AuditSettings:
        assert self.keys_dir is not None
        if self.checkpoint_key_file is None:
            self.checkpoint_key_file = self.keys_dir / f"{KEY_NAME}.pem"
        if self.anchor_file is None and self.is_dev:
            self.anchor_file = self.var_dir / "audit-anchor.jsonl"
        if self.archive_dir is None:
            self.archive_dir = self.var_dir / "audit-archive"
        if self.alerts_file is None:
            self.alerts_file = self.policies_dir / "alerts.yaml"
        if not self.is_dev and not self.checkpoint_key_file.exists():
            raise ConfigurationError(
                f"the audit checkpoint key {self.checkpoint_key_file} is missing; "
                "production signs checkpoints with a provisioned Ed25519 key"
            )
        return self

    @property
    def max_unanchored(self) -> int:
        """How many records may follow the last checkpoint in an intact chain."""
        return self.checkpoint_every_events + self.max_batch
