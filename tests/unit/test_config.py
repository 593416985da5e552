"""Configuration: parsed from the environment, documented from the same fields."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.config import Settings, settings_table


def test_retry_delays_and_levels_parse_from_the_environment(monkeypatch):
    monkeypatch.setenv("BUS_RETRY_DELAYS", "0.5, 2,10")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.bus_retry_delays == (0.5, 2.0, 10.0)
    assert settings.log_level == "DEBUG"


def test_an_unknown_log_level_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError, match="LOG_LEVEL"):
        Settings()


def test_service_database_url_wins_over_the_shared_one(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://shared/db")
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql+psycopg://billing/db")
    settings = Settings()
    assert settings.database_url_for("billing") == "postgresql+psycopg://billing/db"
    assert settings.database_url_for("access") == "postgresql+psycopg://shared/db"
    monkeypatch.delenv("DATABASE_URL")
    assert Settings(PSP_VAR_DIR=tmp_path).database_url_for("access") == f"sqlite:///{tmp_path}/access.sqlite3"


def test_readme_carries_the_current_configuration_table():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert settings_table() in readme
