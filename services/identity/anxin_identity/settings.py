"""Identity service settings (env prefix `ANXIN_IDENTITY_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from anxin_shared.settings import ConfigurationError, ServiceSettings, settings_config

# Dev-only keys: refused outside dev, so a deployment has to set its own.
DEV_ANI_HASH_KEY = "anxin-dev-ani-hash-key-not-for-production"
DEV_OTP_KEY = "anxin-dev-otp-key-not-for-production"


class IdentitySettings(ServiceSettings):
    """The call-session service's settings."""

    model_config = settings_config("identity")

    service: str = "identity"
    session_ttl_seconds: int = Field(default=1800, gt=0, le=86_400)
    # HMAC key of the caller's number: the stored ANI hash is keyed per deployment.
    # From the env, else `<keys_dir>/ani-hash.key`; a fixed dev key in dev only.
    ani_hash_key: SecretStr | None = None
    # HMAC key deriving and hashing one-time codes (the code itself is never stored).
    # From the env, else `<keys_dir>/otp.key`; a fixed dev key in dev only.
    otp_key: SecretStr | None = None
    otp_ttl_seconds: int = Field(default=300, ge=30, le=900)
    otp_digits: int = Field(default=6, ge=6, le=8)
    # The SMS gateway: "dev-sink" appends each message to `sms_sink_path` (the default in
    # dev, refused elsewhere); "http" posts to `sms_gateway_url`; "none" (the default outside
    # dev) sends nothing, and asking for a code is a 503.
    sms_gateway: Literal["dev-sink", "http", "none"] | None = None
    sms_sink_path: Path | None = None
    sms_gateway_url: str = ""
    # Numbers known for fraud, one per line (`number[,label]`, `#` comments), hashed at start.
    ani_watchlist_file: Path | None = None
    # Voiceprints (anxin_identity.voice). Scores are cosine similarities of embeddings;
    # `benchmarks/voice.py` shows where same and different voices fall (its equal error
    # rate sits near 0.90). The watchlist errs towards a hit: a hit only alerts and caps.
    voice_engine: Literal["resemblyzer"] = "resemblyzer"
    # Load the engine while the service starts (a few seconds), not on the first request.
    voice_preload: bool = True
    voice_match_threshold: float = Field(default=0.90, gt=0.0, lt=1.0)
    voice_watchlist_threshold: float = Field(default=0.88, gt=0.0, lt=1.0)
    voice_max_audio_bytes: int = Field(default=512 * 1024, gt=0)
    voice_min_audio_seconds: float = Field(default=1.0, gt=0.0)
    voice_max_audio_seconds: float = Field(default=20.0, gt=0.0)
    voice_min_speech_seconds: float = Field(default=1.0, gt=0.0)
    voice_min_enrollment_utterances: int = Field(default=2, ge=2, le=10)
    voice_max_enrollment_utterances: int = Field(default=5, ge=2, le=10)
    # AES-256-GCM key of stored embeddings, base64; else `<keys_dir>/voiceprint.key`
    # (generated in dev, required elsewhere).
    voiceprint_key: SecretStr | None = None

    @model_validator(mode="after")
    def _refuse_missing_voiceprint_key(self) -> IdentitySettings:
        key_file = Path(str(self.keys_dir)) / "voiceprint.key"
        if self.env != "dev" and self.voiceprint_key is None and not key_file.exists():
            raise ConfigurationError(
                "ANXIN_IDENTITY_VOICEPRINT_KEY (or voiceprint.key in the keys dir) is required"
                " outside dev"
            )
        return self

    def _secret(self, name: str, file_name: str, dev_default: str) -> SecretStr:
        value: SecretStr | None = getattr(self, name)
        key_file = Path(str(self.keys_dir)) / file_name
        if value is None and key_file.is_file():
            value = SecretStr(key_file.read_text(encoding="utf-8").strip())
        if value is None and self.env == "dev":
            value = SecretStr(dev_default)
        if value is None or (self.env != "dev" and value.get_secret_value() == dev_default):
            raise ConfigurationError(
                f"ANXIN_IDENTITY_{name.upper()} (or {file_name} in the keys dir) is required"
                " outside dev"
            )
        if len(value.get_secret_value()) < 16:
            raise ConfigurationError(f"ANXIN_IDENTITY_{name.upper()} is too short")
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> IdentitySettings:
        self.ani_hash_key = self._secret("ani_hash_key", "ani-hash.key", DEV_ANI_HASH_KEY)
        self.otp_key = self._secret("otp_key", "otp.key", DEV_OTP_KEY)
        if self.sms_sink_path is None:
            self.sms_sink_path = self.var_dir / "sms-sink.jsonl"
        if self.sms_gateway is None:
            self.sms_gateway = "dev-sink" if self.env == "dev" else "none"
        if self.env != "dev" and self.sms_gateway == "dev-sink":
            raise ConfigurationError("the dev SMS sink is refused outside dev")
        if self.sms_gateway == "http" and not self.sms_gateway_url:
            raise ConfigurationError("ANXIN_IDENTITY_SMS_GATEWAY_URL is required for http SMS")
        return self

    @property
    def ani_key(self) -> str:
        """The ANI HMAC key (resolved at start)."""
        assert self.ani_hash_key is not None
        return self.ani_hash_key.get_secret_value()

    @property
    def code_key(self) -> str:
        """The one-time-code HMAC key (resolved at start)."""
        assert self.otp_key is not None
        return self.otp_key.get_secret_value()
