"""Profile service settings (env prefix `ANXIN_PROFILE_`)."""

from __future__ import annotations

from anxin_shared.settings import ServiceSettings, settings_config


class ProfileSettings(ServiceSettings):
    """The customer master's settings."""

    model_config = settings_config("profile")

    service: str = "profile"
    seed_demo_data: bool = True
