"""ServiceSettings: defaults, and every field settable from XLSEARCH_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import ServiceSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "API_KEY", "MAX_QUERY_CHARS", "RELOAD_INTERVAL", "CORS_ORIGINS"):
        monkeypatch.delenv(f"XLSEARCH_{name}", raising=False)

    settings = ServiceSettings()

    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.api_key is None
    assert settings.max_query_chars == 1000
    assert settings.reload_interval == 1.0
    assert settings.cors_origins == []


def test_environment_sets_paths_host_port_model_cache_and_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "XLSEARCH_VECTORS_DIR": str(tmp_path / "v"),
        "XLSEARCH_SEEDS_DIR": str(tmp_path / "s"),
        "XLSEARCH_MODEL_CACHE": str(tmp_path / "m"),
        "XLSEARCH_HOST": "0.0.0.0",
        "XLSEARCH_PORT": "9001",
        "XLSEARCH_API_KEY": "s3cret",
        "XLSEARCH_MAX_QUERY_CHARS": "200",
        "XLSEARCH_CORS_ORIGINS": '["http://localhost:3000"]',
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    settings = ServiceSettings()

    assert settings.vectors_dir == tmp_path / "v" and settings.seeds_dir == tmp_path / "s"
    assert settings.model_cache == tmp_path / "m"
    assert (settings.host, settings.port) == ("0.0.0.0", 9001)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.max_query_chars == 200
    assert settings.cors_origins == ["http://localhost:3000"]
