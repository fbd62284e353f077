"""Alembic environment: the orders database, async drivers, URL from DATABASE_URL."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.sql.sqltypes import AutoString

from alembic import context
from services.common import idempotency  # noqa: F401  (registers idempotency_keys)
from services.common.settings import async_database_url, get_settings
from services.common.types import Money, UTCDateTime
from services.orders import models
from services.orders.channels import models as channel_models  # noqa: F401  (registers its tables)

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = models.metadata


def _url() -> str:
    return async_database_url(config.get_main_option("sqlalchemy.url") or get_settings().database_url)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and isinstance(obj, UTCDateTime | Money):
        autogen_context.imports.add("import services.common.types")
        return f"services.common.types.{type(obj).__name__}()"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_item=render_item
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _configure(given)
    else:
        asyncio.run(_run_async())
