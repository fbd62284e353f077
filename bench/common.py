"""Shared set-up for benchmarks: a throwaway PostgreSQL database migrated with the real migrations."""

from __future__ import annotations

import asyncio
import os
import resource
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from services.cli import run_migrations
from services.common.settings import Settings

ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_KEY = "bench-agent-key"


@asynccontextmanager
async def bench_database(tmp: Path) -> AsyncIterator[Settings]:
    name = f"os_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(DATABASE_URL=url, API_KEYS=f"{BENCH_KEY}:agent", API_KEY_FILE=tmp / "key",  # type: ignore[call-arg]
                        LOG_LEVEL="WARNING", RUN_WORKER_IN_PROCESS=False, CARRIER_WEBHOOK_SECRET="bench")
    await asyncio.to_thread(run_migrations, settings)
    try:
        yield settings
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def raw_dsn(settings: Settings) -> str:
    return settings.database_url.replace("postgresql+asyncpg://", "postgresql://")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
