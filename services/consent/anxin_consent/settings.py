"""Consent service settings (env prefix `ANXIN_CONSENT_`)."""

from __future__ import annotations

from anxin_shared.settings import ServiceSettings, settings_config


class ConsentSettings(ServiceSettings):
    """The consent service's settings."""

    model_config = settings_config("consent")

    service: str = "consent"
    seed_demo_data: bool = True
    # How often grants past their notice's retention are closed (expire record + event).
    expiry_sweep_seconds: float = 60.0
