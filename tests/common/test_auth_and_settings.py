"""API keys (given or generated once and kept outside the database) and settings parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.auth import load_keyring, parse_api_keys
from services.common.settings import Settings, async_database_url, production_problems


class TestKeys:
    def test_generated_key_is_kept_and_reused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        settings = Settings(API_KEY_FILE=tmp_path / "key", _env_file=None)  # type: ignore[call-arg]
        ring = load_keyring(settings)
        key = (tmp_path / "key").read_text().strip()
        assert key in capsys.readouterr().out
        assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
        principal = ring.lookup(key)
        assert principal is not None and principal.role == "agent"
        again = load_keyring(settings)
        assert again.lookup(key) is not None and "generated" not in capsys.readouterr().out

    def test_parse_and_reject(self) -> None:
        entries = parse_api_keys("a1:agent, s1:service ,c1:customer:c-9")
        assert entries["c1"].customer_id == "c-9" and entries["s1"].role == "service"
        for bad in ("nokey", "k:admin", "k:customer", "k:agent:x:y"):
            with pytest.raises(ValueError, match="API_KEYS entry 1"):
                parse_api_keys(bad)

    def test_unknown_key_never_matches(self) -> None:
        ring = load_keyring(Settings(API_KEYS="right:agent", _env_file=None))  # type: ignore[call-arg]
        assert ring.lookup("wrong") is None and ring.lookup("righ") is None


class TestSettings:
    def test_database_urls(self) -> None:
        assert async_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
        assert async_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
        assert async_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
        assert Settings(_env_file=None).database_url == "sqlite+aiosqlite:///./order_support.db"  # type: ignore[call-arg]

    def test_policies(self) -> None:
        s = Settings(RETURN_WINDOWS="electronics=10,default=20", CARRIER_SCAN_GAPS="default=24,dhl=36",  # type: ignore[call-arg]
                     _env_file=None)
        assert s.return_window_days() == {"electronics": 10, "default": 20}
        assert s.carrier_gap_hours() == {"default": 24.0, "dhl": 36.0}

    def test_production_needs(self) -> None:
        assert production_problems("orders", {}) == ["DATABASE_URL is not set", "API_KEYS is not set",
                                                     "WALLET_SUPPORT_URL is not set",
                                                     "WALLET_SUPPORT_API_KEY is not set",
                                                     "CARRIER_WEBHOOK_SECRET is not set",
                                                     "ACCOUNT_LINK_SECRET is not set"]
        placeholder = {"DATABASE_URL": "x", "API_KEYS": "change-me-agent-key:agent", "REDIS_URL": "r"}
        assert production_problems("wallet", placeholder) == ["API_KEYS still holds the placeholder from .env.example"]
