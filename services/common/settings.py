"""Process configuration, read from the environment exactly as the contract names it."""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./order_support.db"


def async_database_url(url: str) -> str:
    """Accept the URLs operators write (postgres://, postgresql://, sqlite://) and pick async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("postgresql+psycopg2://"):
        return "postgresql+asyncpg://" + url[len("postgresql+psycopg2://") :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True)

    environment: str = Field(default="development", alias="ENVIRONMENT")
    database_url: str = Field(default=DEFAULT_SQLITE_URL, alias="DATABASE_URL")
    wallet_support_url: str | None = Field(default=None, alias="WALLET_SUPPORT_URL")
    wallet_support_api_key: str | None = Field(default=None, alias="WALLET_SUPPORT_API_KEY")
    tron_api_key: str | None = Field(default=None, alias="TRON_API_KEY")
    subscan_api_key: str | None = Field(default=None, alias="SUBSCAN_API_KEY")
    api_keys: str | None = Field(default=None, alias="API_KEYS")
    api_key_file: Path = Field(default=Path(".order_support_api_key"), alias="API_KEY_FILE")
    carrier_webhook_secret: str | None = Field(default=None, alias="CARRIER_WEBHOOK_SECRET")
    # Each webhook sender's own secret; AfterShip's and EasyPost's default to CARRIER_WEBHOOK_SECRET, the
    # Chinese providers' have no default (their pushes answer 503 until set).
    aftership_webhook_secret: str | None = Field(default=None, alias="AFTERSHIP_WEBHOOK_SECRET")
    easypost_webhook_secret: str | None = Field(default=None, alias="EASYPOST_WEBHOOK_SECRET")
    kuaidi100_salt: str | None = Field(default=None, alias="KUAIDI100_SALT")
    kdniao_app_key: str | None = Field(default=None, alias="KDNIAO_APP_KEY")
    seventeentrack_key: str | None = Field(default=None, alias="SEVENTEENTRACK_KEY")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    chains_file: Path | None = Field(default=None, alias="CHAINS_FILE")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    gc_tuning: bool = Field(default=True, alias="GC_TUNING")
    max_body_bytes: int = Field(default=1_048_576, alias="MAX_BODY_BYTES")
    migrate_on_start: bool | None = Field(default=None, alias="MIGRATE_ON_START")
    run_worker_in_process: bool = Field(default=True, alias="RUN_WORKER_IN_PROCESS")
    worker_heartbeat_file: Path = Field(default=Path("/tmp/order-support-worker.heartbeat"),
                                        alias="WORKER_HEARTBEAT_FILE")
    worker_interval_seconds: float = Field(default=15.0, alias="WORKER_INTERVAL_SECONDS")
    reorg_watch_seconds: float = Field(default=600.0, alias="REORG_WATCH_SECONDS")
    payment_check_deadline_hours: float = Field(default=24.0, alias="PAYMENT_CHECK_DEADLINE_HOURS")
    payment_check_inline_seconds: float = Field(default=3.0, ge=0, le=60, alias="PAYMENT_CHECK_INLINE_SECONDS")
    job_lease_seconds: float = Field(default=120.0, gt=0, alias="JOB_LEASE_SECONDS")
    worker_concurrency: int = Field(default=4, ge=1, le=64, alias="WORKER_CONCURRENCY")
    # A tx mined this long before the order was placed cannot be the order's payment.
    before_order_grace_minutes: float = Field(default=10.0, ge=0, alias="BEFORE_ORDER_GRACE_MINUTES")
    rpc_timeout_seconds: float = Field(default=8.0, alias="RPC_TIMEOUT_SECONDS")
    rpc_batch_size: int = Field(default=100, alias="RPC_BATCH_SIZE")
    # wallet-support: per API key, "N/second|minute|hour|day" (service keys get 10x); tx hashes looked up
    # (a batch costs its size) and payment verifications (fresh=true costs 10); readiness probe kept this long.
    rate_limit_lookups: str = Field(default="1200/minute", alias="RATE_LIMIT_LOOKUPS")
    rate_limit_verifies: str = Field(default="120/minute", alias="RATE_LIMIT_VERIFIES")
    readyz_cache_seconds: float = Field(default=5.0, ge=0, le=300, alias="READYZ_CACHE_SECONDS")
    # Delivered-address check thresholds (great-circle km).
    address_match_km: float = Field(default=0.3, alias="ADDRESS_MATCH_KM")
    address_mismatch_km: float = Field(default=2.0, alias="ADDRESS_MISMATCH_KM")
    # Return windows per item category, days: "electronics=7,apparel=30,home=15,default=15".
    return_windows: str = Field(default="electronics=7,apparel=30,home=15,default=15", alias="RETURN_WINDOWS")
    # Usual gap between carrier scans, hours: "default=72,sf-express=48".
    carrier_scan_gaps: str = Field(default="default=72,sf-express=48,usps=72,ups=48,fedex=48,dhl=72",
                                   alias="CARRIER_SCAN_GAPS")
    non_returnable: str = Field(default="digital,gift_card,perishable", alias="NON_RETURNABLE_CATEGORIES")
    payment_pending_too_long_hours: float = Field(default=24.0, alias="PAYMENT_PENDING_TOO_LONG_HOURS")
    ship_within_hours: float = Field(default=72.0, alias="SHIP_WITHIN_HOURS")
    payment_tolerance: Decimal = Field(default=Decimal("0"), alias="PAYMENT_TOLERANCE")
    # Customer channels (services/orders/channels): outbound mail, events to the shop, account links, uploads.
    smtp_url: str | None = Field(default=None, alias="SMTP_URL")
    mail_from: str | None = Field(default=None, alias="MAIL_FROM")
    webhook_endpoints: str | None = Field(default=None, alias="WEBHOOK_ENDPOINTS")
    outbox_retry_hours: float = Field(default=72.0, ge=24, alias="OUTBOX_RETRY_HOURS")
    public_base_url: str = Field(default="http://127.0.0.1:8000", alias="PUBLIC_BASE_URL")
    account_link_secret: str | None = Field(default=None, alias="ACCOUNT_LINK_SECRET")
    account_link_ttl_minutes: float = Field(default=60.0, gt=0, alias="ACCOUNT_LINK_TTL_MINUTES")
    max_attachment_bytes: int = Field(default=10_485_760, gt=0, alias="MAX_ATTACHMENT_BYTES")
    attachments_dir: Path = Field(default=Path("./attachments"), alias="ATTACHMENTS_DIR")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.is_sqlite

    def return_window_days(self) -> dict[str, int]:
        return {k: int(v) for k, v in _pairs(self.return_windows).items()}

    def non_returnable_categories(self) -> set[str]:
        return {c.strip().lower() for c in self.non_returnable.split(",") if c.strip()}

    def carrier_gap_hours(self) -> dict[str, float]:
        return {k: float(v) for k, v in _pairs(self.carrier_scan_gaps).items()}

    @staticmethod
    def per_chain(prefix: str) -> dict[str, str]:
        """Variables such as RPC_URLS_ETH or MERCHANT_ADDRESS_TRON, keyed by lower-case chain name: from .env
        like every other setting, the process environment taking precedence (an empty value is no value)."""
        found: dict[str, str] = {}
        env_file = Path(str(Settings.model_config.get("env_file") or ".env"))
        dotenv = dotenv_values(env_file) if env_file.is_file() else {}
        for source in (dotenv, os.environ):
            for name, value in source.items():
                if name.upper().startswith(prefix) and value and value.strip():
                    found[name[len(prefix) :].lower()] = value.strip()
        return found


def _pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip().lower()] = value.strip()
    return out


# What each process cannot do without in production (ENVIRONMENT=production): `order-support` refuses to
# start when one is missing, and the compose file is tested against this table.
REQUIRED_IN_PRODUCTION: dict[str, tuple[str, ...]] = {
    "migrate": ("DATABASE_URL",),
    # ACCOUNT_LINK_SECRET: every replica must sign and check account-change links with the same secret.
    "orders": ("DATABASE_URL", "API_KEYS", "WALLET_SUPPORT_URL", "WALLET_SUPPORT_API_KEY", "CARRIER_WEBHOOK_SECRET",
               "ACCOUNT_LINK_SECRET"),
    "wallet": ("API_KEYS", "REDIS_URL"),
    "worker": ("DATABASE_URL", "WALLET_SUPPORT_URL", "WALLET_SUPPORT_API_KEY"),
}
PER_CHAIN_PREFIXES = ("RPC_URLS_", "MERCHANT_ADDRESS_")
PLACEHOLDER_MARKERS = ("change-me", "changeme")


def known_variables() -> set[str]:
    """Every variable the code reads by name (per-chain ones are matched by prefix)."""
    return {str(field.alias) for field in Settings.model_fields.values() if field.alias} | {"HOST", "PORT"}


def production_problems(role: str, environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    problems = [f"{name} is not set" for name in REQUIRED_IN_PRODUCTION.get(role, ()) if not env.get(name, "").strip()]
    for name in ("API_KEYS", "WALLET_SUPPORT_API_KEY", "CARRIER_WEBHOOK_SECRET", "ACCOUNT_LINK_SECRET"):
        if any(marker in env.get(name, "").lower() for marker in PLACEHOLDER_MARKERS):
            problems.append(f"{name} still holds the placeholder from .env.example")
    return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
