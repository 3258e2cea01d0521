"""Identity service settings (env prefix `ANXIN_IDENTITY_`)."""

from __future__ import annotations

from pydantic import Field

from anxin_shared.settings import ServiceSettings, settings_config


class IdentitySettings(ServiceSettings):
    """The call-session service's settings."""

    model_config = settings_config("identity")

    service: str = "identity"
    session_ttl_seconds: int = Field(default=1800, gt=0, le=86_400)
