"""Settings: one `BaseSettings` per service, env prefix `ANXIN_<SERVICE>_`.

Suite-wide values (environment, var dir, policies, keys, telemetry) are read
from unprefixed `ANXIN_*` names so one export configures every service.
Outside dev the settings refuse to start on the generated dev keys or on a
missing database URL: production must be configured on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from anxin_shared.keys import DEV_KEYS_MARKER

Environment = Literal["dev", "prod"]
SERVICE_PORTS = {"gateway": 8000, "identity": 8001, "consent": 8002, "profile": 8003, "audit": 8004}
SERVICES = tuple(SERVICE_PORTS)


class ConfigurationError(RuntimeError):
    """Raised at start-up when settings are unsafe or incomplete."""


def _suite(name: str, default: object) -> object:
    return Field(default, validation_alias=AliasChoices(f"ANXIN_{name.upper()}"))


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclasses set `service` and the env prefix."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service: str = "service"
    env: Environment = _suite("env", "dev")  # type: ignore[assignment]
    var_dir: Path = _suite("var_dir", Path("var"))  # type: ignore[assignment]
    policies_dir: Path = _suite("policies_dir", Path("policies"))  # type: ignore[assignment]
    keys_dir: Path | None = _suite("keys_dir", None)  # type: ignore[assignment]
    otel_exporter: Literal["none", "console", "otlp"] = _suite("otel_exporter", "none")  # type: ignore[assignment]
    policy_reload_seconds: float = _suite("policy_reload_seconds", 1.0)  # type: ignore[assignment]
    # Shadow mode: a candidate policy folder evaluated beside the live one, never enforced.
    policy_shadow_dir: Path | None = _suite("policy_shadow_dir", None)  # type: ignore[assignment]

    host: str = "127.0.0.1"
    port: int = 0
    database_url: str | None = None
    auto_migrate: bool = True
    outbox_interval_seconds: float = 0.5
    upstream_timeout_seconds: float = 5.0

    identity_url: str = _suite("identity_url", "")  # type: ignore[assignment]
    consent_url: str = _suite("consent_url", "")  # type: ignore[assignment]
    profile_url: str = _suite("profile_url", "")  # type: ignore[assignment]
    audit_url: str = _suite("audit_url", "")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _fill_defaults_and_refuse_unsafe(self) -> ServiceSettings:
        if not self.port:
            self.port = SERVICE_PORTS.get(self.service, 0)
        if self.keys_dir is None:
            self.keys_dir = self.var_dir / "keys"
        for peer, port in SERVICE_PORTS.items():
            attr = f"{peer}_url"
            if hasattr(self, attr) and not getattr(self, attr):
                setattr(self, attr, f"http://127.0.0.1:{port}")
        if self.database_url is None:
            if self.env != "dev":
                raise ConfigurationError(
                    f"ANXIN_{self.service.upper()}_DATABASE_URL is required outside dev"
                )
            self.database_url = f"sqlite:///{self.var_dir / (self.service + '.db')}"
        if self.env == "prod":
            if (self.keys_dir / DEV_KEYS_MARKER).exists():
                raise ConfigurationError(
                    f"{self.keys_dir} holds generated dev keys; production needs real keys"
                )
            if self.database_url.startswith("sqlite"):
                raise ConfigurationError("production runs on PostgreSQL, not SQLite")
        return self

    @property
    def is_dev(self) -> bool:
        """True when the dev issuer, dev keys and /dev routes are allowed."""
        return self.env == "dev"

    @property
    def audience(self) -> str:
        """The audience this service's inbound internal tokens must name."""
        return f"anxin-{self.service}"

    def peer_url(self, peer: str) -> str:
        """Base URL of another service."""
        return str(getattr(self, f"{peer}_url"))


def settings_config(service: str) -> SettingsConfigDict:
    """The pydantic-settings config for a service: prefix `ANXIN_<SERVICE>_`."""
    return SettingsConfigDict(
        env_prefix=f"ANXIN_{service.upper()}_", extra="ignore", populate_by_name=True
    )
