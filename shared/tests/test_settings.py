"""Settings refuse unsafe production configurations and default sensibly in dev."""

from __future__ import annotations

from pathlib import Path

import pytest

from anxin_shared.keys import ensure_dev_keys
from anxin_shared.settings import ConfigurationError, ServiceSettings, settings_config


class DemoSettings(ServiceSettings):
    model_config = settings_config("profile")
    service: str = "profile"


def test_dev_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = DemoSettings(env="dev", var_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'profile.db'}"
    assert settings.port == 8003
    assert settings.audit_url == "http://127.0.0.1:8004"


def test_env_prefix_per_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANXIN_PROFILE_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("ANXIN_GATEWAY_DATABASE_URL", "sqlite:///not-mine.db")
    monkeypatch.setenv("ANXIN_VAR_DIR", str(tmp_path))
    settings = DemoSettings()
    assert settings.database_url == "sqlite:///elsewhere.db"
    assert settings.var_dir == tmp_path


def test_production_needs_a_database_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        DemoSettings(env="prod", var_dir=tmp_path)


def test_production_refuses_generated_dev_keys(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / "keys")
    with pytest.raises(ConfigurationError):
        DemoSettings(
            env="prod", var_dir=tmp_path, database_url="postgresql+psycopg://a@127.0.0.1/x"
        )
    (tmp_path / "keys" / "DEV-KEYS").unlink()
    assert (
        DemoSettings(
            env="prod", var_dir=tmp_path, database_url="postgresql+psycopg://a@127.0.0.1/x"
        ).env
        == "prod"
    )
