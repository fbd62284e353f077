"""`order-support`: serve, migrate, worker."""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path

import typer
import uvicorn
from alembic.config import Config
from fastapi import FastAPI

from alembic import command
from services.common.auth import load_keyring
from services.common.settings import Settings, get_settings

app = typer.Typer(help="order-support: the support desk's orders and wallet backend.", no_args_is_help=True)
ROOT = Path(__file__).resolve().parent.parent


class Which(enum.StrEnum):
    orders = "orders"
    wallet = "wallet"


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def run_migrations(settings: Settings) -> None:
    command.upgrade(alembic_config(settings.database_url), "head")


def build_app(which: Which | None, settings: Settings) -> FastAPI:
    from services.orders.main import create_app as create_orders
    from services.wallet_support.main import create_app as create_wallet

    if which is Which.wallet:
        return create_wallet(settings)
    keyring = load_keyring(settings)
    if which is Which.orders:
        return create_orders(settings, keyring=keyring)
    return create_orders(settings, wallet_app=create_wallet(settings, keyring=keyring), keyring=keyring,
                         embedded=True)


@app.command()
def serve(which: Which | None = typer.Argument(None, help="orders or wallet; both in one process when omitted"),
          host: str = typer.Option("127.0.0.1", envvar="HOST"),
          port: int | None = typer.Option(None, envvar="PORT", help="8000 for orders/both, 8001 for wallet")) -> None:
    """Serve the HTTP API (both services in one process by default, wallet-support under /wallet)."""
    settings = get_settings()
    if which is not Which.wallet and settings.should_migrate_on_start:
        run_migrations(settings)
    port = port or (8001 if which is Which.wallet else 8000)
    uvicorn.run(build_app(which, settings), host=host, port=port, log_config=None, proxy_headers=True)


@app.command()
def migrate() -> None:
    """Bring the orders database to the latest schema (alembic upgrade head)."""
    run_migrations(get_settings())
    typer.echo("database is at the latest migration")


@app.command()
def worker(once: bool = typer.Option(False, help="run one pass and exit")) -> None:
    """Run the background worker: chain payment re-checks and stalled-parcel sweeps."""
    from services.orders.worker import run_worker

    settings = get_settings()
    if settings.should_migrate_on_start:
        run_migrations(settings)
    asyncio.run(run_worker(settings, once=once))


if __name__ == "__main__":
    app()
