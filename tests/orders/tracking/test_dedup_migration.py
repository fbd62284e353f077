"""Migration 0006: stored dedup keys written with the sender's offset become the UTC instant, and the same scan
stored twice under two offsets is kept once; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import command
from services.cli import alembic_config
from tests.conftest import Database, require_postgres

ROWS = [  # (carrier, tracking number, dedup key) as the previous code stored them
    ("sf-express", "SF1", "at:in_transit@2026-11-02T08:00:00+08:00"),
    ("sf-express", "SF1", "at:in_transit@2026-11-02T00:00:00+00:00"),  # the same instant: a duplicate
    ("sf-express", "SF1", "at:delivered@2026-11-04T15:00:00+08:00"),
    ("sf-express", "SF1", "id:e-1"),
    ("usps", "9405", "at:in_transit@2021-05-13T17:04:00+00:00"),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_keys_become_instants_and_duplicates_go(kind: str, tmp_path: Path) -> None:
    if kind == "postgres":
        await require_postgres()
    db = Database(kind, tmp_path)
    await db.create()
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(db.url), "0005")
        engine = create_async_engine(db.url)
        async with engine.begin() as conn:
            for carrier, number, key in ROWS:
                await conn.execute(text(
                    "INSERT INTO tracking_events (carrier, tracking_number, dedup_key, status, occurred_at, source, "
                    "received_at) VALUES (:c, :n, :k, 'in_transit', :t, 'api', :t)"),
                    {"c": carrier, "n": number, "k": key, "t": datetime(2026, 11, 2, tzinfo=UTC)})
        await asyncio.to_thread(command.upgrade, alembic_config(db.url), "0006")
        async with engine.connect() as conn:
            keys = [(r[0], r[1]) for r in await conn.execute(text(
                "SELECT tracking_number, dedup_key FROM tracking_events ORDER BY id"))]
        await engine.dispose()
        assert keys == [("SF1", "at:in_transit@2026-11-02T00:00:00+00:00"),
                        ("SF1", "at:delivered@2026-11-04T07:00:00+00:00"), ("SF1", "id:e-1"),
                        ("9405", "at:in_transit@2021-05-13T17:04:00+00:00")]
    finally:
        await db.drop()
