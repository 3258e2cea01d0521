"""Profile service settings (env prefix `ANXIN_PROFILE_`)."""

from __future__ import annotations

from anxin_shared.settings import ServiceSettings, settings_config


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
