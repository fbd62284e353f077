"""`order-support`: serve, migrate, worker."""

from __future__ import annotations

import asyncio
import enum
import os
from pathlib import Path

import typer
import uvicorn
from alembic.config import Config
from fastapi import FastAPI

from alembic import command
from services.common.auth import load_keyring
from services.common.settings import Settings, get_settings, production_problems

app = typer.Typer(help="order-support: the support desk's orders and wallet backend.", no_args_is_help=True)
ROOT = Path(__file__).resolve().parent.parent


class Which(enum.StrEnum):
    orders = "orders"
    wallet = "wallet"


def _project_root() -> Path:
    """Where alembic.ini lives: the checkout (editable install), else the working directory (the image's /app)."""
    return ROOT if (ROOT / "alembic.ini").exists() else Path.cwd()


def alembic_config(database_url: str | None = None) -> Config:
    root = _project_root()
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "alembic"))
    # Our JSON logging is already set up; alembic.ini's handlers would print every line twice.
    cfg.attributes["configure_logging"] = False
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def run_migrations(settings: Settings) -> None:
    command.upgrade(alembic_config(settings.database_url), "head")


def refuse_incomplete_production(role: str, settings: Settings) -> None:
    """In production a missing secret or URL stops the process at once, with what is missing."""
    if settings.environment.lower() != "production":
        return
    problems = production_problems(role)
    if problems:
        typer.echo(f"order-support {role}: cannot start in production: {'; '.join(problems)}", err=True)
        raise typer.Exit(2)


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


_SERVE_WHICH_ENV = "_ORDER_SUPPORT_SERVE_WHICH"  # internal: tells `serve --workers N`'s processes what to build


def worker_process_app() -> FastAPI:
    """The app of one `serve --workers N` process (uvicorn starts each process afresh and calls this)."""
    raw = os.environ.get(_SERVE_WHICH_ENV, "")
    return build_app(Which(raw) if raw else None, get_settings())


# On SIGTERM a server stops taking requests and gives those under way this long before it exits.
SHUTDOWN_SECONDS = 4  # plus closing the app: out within 5 s


@app.command()
def serve(which: Which | None = typer.Argument(None, help="orders or wallet; both in one process when omitted"),
          host: str = typer.Option("127.0.0.1", envvar="HOST"),
          port: int | None = typer.Option(None, envvar="PORT", help="8000 for orders/both, 8001 for wallet"),
          workers: int = typer.Option(1, "--workers", min=1,
                                      help="server processes on the one port; each has its own database pool "
                                           "(20 connections on PostgreSQL), so N x 20 must fit the database's "
                                           "max_connections")) -> None:
    """Serve the HTTP API (both services in one process by default, wallet-support under /wallet)."""
    settings = get_settings()
    refuse_incomplete_production(which.value if which else "orders", settings)
    if which is not Which.wallet and settings.should_migrate_on_start:
        run_migrations(settings)
    port = port or (8001 if which is Which.wallet else 8000)
    if workers == 1:
        uvicorn.run(build_app(which, settings), host=host, port=port, log_config=None, proxy_headers=True,
                    timeout_graceful_shutdown=SHUTDOWN_SECONDS)
        return
    # Several processes: migrate and make the key file once, here, before they start.
    if which is not Which.wallet:
        load_keyring(settings)
    os.environ[_SERVE_WHICH_ENV] = which.value if which else ""
    uvicorn.run("services.cli:worker_process_app", factory=True, workers=workers, host=host, port=port,
                log_config=None, proxy_headers=True, timeout_graceful_shutdown=SHUTDOWN_SECONDS)


@app.command()
def migrate() -> None:
    """Bring the orders database to the latest schema (alembic upgrade head)."""
    settings = get_settings()
    refuse_incomplete_production("migrate", settings)
    run_migrations(settings)
    typer.echo("database is at the latest migration")


@app.command()
def worker(once: bool = typer.Option(False, help="run one pass and exit")) -> None:
    """Run the background worker: chain payment re-checks and stalled-parcel sweeps."""
    from services.orders.worker import run_worker

    settings = get_settings()
    refuse_incomplete_production("worker", settings)
    if settings.should_migrate_on_start:
        run_migrations(settings)
    asyncio.run(run_worker(settings, once=once))


@app.command()
def healthcheck(worker: bool = typer.Option(False, "--worker", help="check the worker's heartbeat instead"),
                port: int = typer.Option(8000, envvar="PORT")) -> None:
    """Container health: the HTTP /healthz of this process, or the worker's recent heartbeat."""
    import time
    import urllib.request

    if worker:
        settings = get_settings()
        age = time.time() - settings.worker_heartbeat_file.stat().st_mtime if \
            settings.worker_heartbeat_file.exists() else float("inf")
        if age > max(3 * settings.worker_interval_seconds, 60):
            raise typer.Exit(1)
        return
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as resp:
            if resp.status != 200:
                raise typer.Exit(1)
    except OSError as exc:
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
