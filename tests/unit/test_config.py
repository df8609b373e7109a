"""Settings from the environment and from the TOML configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sigarchive.config import Settings


def test_tsa_urls_for_failover_come_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "sigarchive.toml"
    config.write_text(
        'tsa_url = ["http://tsa-1.example/", "http://tsa-2.example/"]\nmax_signatures = 3\n'
    )
    monkeypatch.setenv("SIGARCHIVE_CONFIG_FILE", str(config))
    monkeypatch.delenv("SIGARCHIVE_TSA_URL", raising=False)
    settings = Settings()
    assert settings.tsa_urls == ["http://tsa-1.example/", "http://tsa-2.example/"]
    assert settings.max_signatures == 3
    monkeypatch.setenv("SIGARCHIVE_TSA_URL", "http://a/tsa, http://b/tsa")
    assert Settings().tsa_urls == ["http://a/tsa", "http://b/tsa"]  # the environment wins


def test_bad_settings_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGARCHIVE_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="is not a file"):
        Settings()
    monkeypatch.delenv("SIGARCHIVE_CONFIG_FILE")
    monkeypatch.setenv("SIGARCHIVE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("SIGARCHIVE_TIMEZONE", "Europe/Moscow")
    monkeypatch.setenv("SIGARCHIVE_MAX_UPLOAD_BYTES", "0")
    with pytest.raises(ValidationError):
        Settings()
