"""Gateway settings (env prefix `ANXIN_GATEWAY_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from anxin_shared.settings import ConfigurationError, ServiceSettings, settings_config


class GatewaySettings(ServiceSettings):
    """The edge: authentication, limits and the identity providers it trusts."""

    model_config = settings_config("gateway")

    service: str = "gateway"
    idp_issuer: str = "anxin-dev-idp"
    idp_public_key_file: Path | None = None
    idp_max_token_lifetime_seconds: int = 12 * 3600
    client_keys_dir: Path | None = None
    client_max_token_lifetime_seconds: int = 3600
    internal_token_lifetime_seconds: int = 30
    max_body_bytes: int = 1 << 20
    max_header_bytes: int = 16 << 10
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    trusted_proxies: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _gateway_defaults(self) -> GatewaySettings:
        keys_dir = Path(str(self.keys_dir))
        if self.idp_public_key_file is None:
            if not self.is_dev:
                raise ConfigurationError(
                    "ANXIN_GATEWAY_IDP_PUBLIC_KEY_FILE is required outside dev"
                )
            self.idp_public_key_file = keys_dir / "idp.pub.pem"
        if self.client_keys_dir is None:
            self.client_keys_dir = keys_dir / "clients"
        if self.internal_token_lifetime_seconds > 60:
            raise ConfigurationError("internal tokens live at most 60 s")
        if not self.is_dev and self.idp_issuer == "anxin-dev-idp":
            raise ConfigurationError("the dev identity provider is not trusted outside dev")
        return self
