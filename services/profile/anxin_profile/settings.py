"""Profile service settings (env prefix `ANXIN_PROFILE_`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from anxin_shared.settings import ConfigurationError, ServiceSettings, settings_config

_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")


class ProfileSettings(ServiceSettings):
    """The customer master's settings."""

    model_config = settings_config("profile")

    service: str = "profile"
    seed_demo_data: bool = True
    # How long an unmasked value may be shown before the client must discard it.
    unmask_grant_seconds: int = 300
    # Lifetime of a single-use outbound dial reference.
    dial_reference_seconds: int = 900
    # Days to fix a data-quality issue, by kind (other kinds: the default).
    quality_deadline_days: int = 14
    quality_deadline_days_invalid_id: int = 7
    # How often past-deadline issues are enforced in the background (0 = never).
    quality_enforcement_interval_seconds: float = 300.0
    # Legal retention after the last product ends (insurance and anti-money-laundering records).
    legal_retention_years: int = 5
    # Outreach (security education and fraud alerts). Quiet hours are a local window
    # ("HH:MM-HH:MM", may cross midnight) in `outreach_timezone`; a campaign message due
    # inside it waits until it ends. Fraud alerts are security notices: they skip it.
    outreach_timezone: str = "Asia/Shanghai"
    outreach_quiet_hours: str = "21:00-08:00"
    # At most `cap` campaign messages per customer and purpose within the window.
    outreach_frequency_cap: int = Field(default=2, ge=1)
    outreach_frequency_window_hours: float = Field(default=168.0, gt=0)
    # How often due messages are dispatched in the background (0 = never).
    outreach_dispatch_interval_seconds: float = 1.0
    # The gateways: "dev-sink" appends to the sink files (the default in dev, refused
    # elsewhere); "http" posts to the URLs; "none" (the default outside dev) sends nothing.
    outreach_gateway: Literal["dev-sink", "http", "none"] | None = None
    outreach_sms_sink_path: Path | None = None
    outreach_push_sink_path: Path | None = None
    outreach_sms_url: str = ""
    outreach_push_url: str = ""
    # The official hotline messages name (never a customer's number).
    outreach_hotline: str = "95500"

    @field_validator("outreach_quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str) -> str:
        if not _WINDOW.match(value):
            raise ValueError("quiet hours are HH:MM-HH:MM")
        return value

    @model_validator(mode="after")
    def _outreach_gateway(self) -> ProfileSettings:
        if self.outreach_sms_sink_path is None:
            self.outreach_sms_sink_path = self.var_dir / "outreach-sms.jsonl"
        if self.outreach_push_sink_path is None:
            self.outreach_push_sink_path = self.var_dir / "outreach-push.jsonl"
        if self.outreach_gateway is None:
            self.outreach_gateway = "dev-sink" if self.is_dev else "none"
        if not self.is_dev and self.outreach_gateway == "dev-sink":
            raise ConfigurationError("the dev outreach sinks are refused outside dev")
        if self.outreach_gateway == "http" and not (
            self.outreach_sms_url and self.outreach_push_url
        ):
            raise ConfigurationError("ANXIN_PROFILE_OUTREACH_SMS_URL and _PUSH_URL are required")
        return self
