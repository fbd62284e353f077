"""Schemathesis against both services' live OpenAPI: each server a real uvicorn process (orders on PostgreSQL,
the chains' RPC endpoints closed ports), every check, the examples, coverage, fuzzing and stateful phases,
at least 1,500 generated cases per service, 0 failures. The run's size and seed are printed.

SCHEMATHESIS_ALL=1 also runs the operations in EXCLUDED. SCHEMATHESIS_SEED picks another seed (the default is fixed so a failure reproduces); SCHEMATHESIS_EXAMPLES
changes the examples per operation (the defaults keep both services above 1,500 cases in about 3 minutes).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.anvil import free_port
from tests.conftest import AGENT, API_KEYS, WEBHOOK_SECRET, Database, make_settings, require_postgres

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261126"))
MIN_CASES = 1500
# Examples per operation: the orders service has ~45 operations, wallet-support 8.
EXAMPLES = {"orders": int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12")), "wallet": 300}
# Operations left out for now, each with what Schemathesis found there (their owners' work in progress on
# 2026-11-26; remove a line once its route passes): the run must be green for the suite to land.
EXCLUDED: dict[str, str] = {
    # Schemathesis has no serializer for message/rfc822; tests/channels/test_inbound_email.py sends real messages
    # and tests/hardening/test_every_route.py sends it bad input.
    "POST /v1/inbound/email": "schema: a body content type Schemathesis cannot serialize",
}


def _server(which: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(BIN / "order-support"), "serve", which, "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{which} exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{which} did not start")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    import asyncio

    asyncio.run(require_postgres())
    tmp = tmp_path_factory.mktemp("schemathesis")
    db = Database("postgres", tmp)
    asyncio.run(db.create())
    settings = make_settings(db.url, tmp)
    from services.cli import run_migrations

    run_migrations(settings)
    env = {**os.environ, "DATABASE_URL": db.url, "API_KEYS": API_KEYS, "CARRIER_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "AFTERSHIP_WEBHOOK_SECRET": WEBHOOK_SECRET, "EASYPOST_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "LOG_LEVEL": "ERROR", "RUN_WORKER_IN_PROCESS": "false", "MIGRATE_ON_START": "false",
           "API_KEY_FILE": str(tmp / "key"), "RPC_TIMEOUT_SECONDS": "1", "REDIS_URL": "",
           "KUAIDI100_SALT": WEBHOOK_SECRET, "KDNIAO_APP_KEY": WEBHOOK_SECRET, "SEVENTEENTRACK_KEY": WEBHOOK_SECRET}
    for chain in ("ETH", "BSC", "POLYGON", "TRON"):
        env[f"RPC_URLS_{chain}"] = "http://127.0.0.1:9"  # closed: nothing reaches the internet
    ports = {"orders": free_port(), "wallet": free_port()}
    procs = [_server(which, port, env, tmp) for which, port in ports.items()]
    try:
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(db.drop())


@pytest.mark.postgres
@pytest.mark.parametrize("which", ["orders", "wallet"])
def test_schemathesis_finds_nothing(which: str, servers: dict[str, int], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    port = servers[which]
    command = [str(BIN / "schemathesis"), "--no-color", "--config-file", str(HERE / "schemathesis.toml"), "run",
               f"http://127.0.0.1:{port}/openapi.json", "--header", f"Authorization: Bearer {AGENT}",
               "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--workers", "1",
               "--max-examples", str(EXAMPLES[which]), "--seed", str(SEED), "--request-timeout", "30",
               "--output-truncate", "true", "--report", "junit", "--report-dir", str(tmp_path)]
    for name in () if os.environ.get("SCHEMATHESIS_ALL") else EXCLUDED:  # SCHEMATHESIS_ALL=1: owners check theirs
        command += ["--exclude-name", name]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False, cwd=tmp_path)
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    generated = re.search(r"(\d+) generated", output)
    cases = int(generated.group(1)) if generated else 0
    with capsys.disabled():
        print(f"\nschemathesis {which}: {cases} cases generated, seed {SEED}, {EXAMPLES[which]} examples per "
              f"operation, exit {result.returncode}, {took:.0f} s")
    assert result.returncode == 0, output[-20000:]
    assert cases >= MIN_CASES, output[-3000:]
    assert "Stateful" in output
