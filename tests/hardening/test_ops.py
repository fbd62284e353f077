"""Operations: a server stops within 5 s of SIGTERM even with a request hanging; per-chain settings come from
.env like the others; the lock covers every Python the project allows (an offline `pip check` per version)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from services.common.settings import Settings
from tests.anvil import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


@pytest.mark.parametrize("which", ["orders", "wallet"])
def test_server_stops_within_5_seconds_of_sigterm_with_a_request_hanging(which: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
           "API_KEYS": "k-agent-000001:agent", "CARRIER_WEBHOOK_SECRET": "s", "LOG_LEVEL": "WARNING",
           "RUN_WORKER_IN_PROCESS": "false", "API_KEY_FILE": str(tmp_path / "key")}
    proc = subprocess.Popen([str(BIN / "order-support"), "serve", which, "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_healthy(port, proc)
        # A client that announced a body and never sends it: the request stays in flight.
        hanging = socket.create_connection(("127.0.0.1", port))
        hanging.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Authorization: Bearer k-agent-000001\r\nContent-Length: 1000\r\n\r\n{")
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        took = time.monotonic() - started
        hanging.close()
        assert took < 5.5, f"stopped after {took:.1f} s"  # 4 s grace, then the app closes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_per_chain_settings_come_from_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("MERCHANT_ADDRESS_TRON=TFromDotenv\nRPC_URLS_POLYGON=http://dotenv:8545\n"
                                   "MERCHANT_ADDRESS_ETH=0xfromdotenv\nRPC_URLS_EMPTY=\n")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("MERCHANT_ADDRESS_", "RPC_URLS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MERCHANT_ADDRESS_ETH", "0xfromenvironment")
    assert Settings.per_chain("MERCHANT_ADDRESS_") == {"tron": "TFromDotenv", "eth": "0xfromenvironment"}
    assert Settings.per_chain("RPC_URLS_") == {"polygon": "http://dotenv:8545"}


# -- the lock ----------------------------------------------------------------------------------------------

def _lock() -> list[tuple[str, str, Marker | None]]:
    entries = []
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, _, marker = line.partition(";")
        name, _, version = spec.strip().partition("==")
        assert version, f"not pinned: {line}"
        entries.append((str(canonicalize_name(name)), version.strip(), Marker(marker) if marker.strip() else None))
    return entries


def _environment(python: str) -> dict[str, str]:
    major_minor = ".".join(python.split(".")[:2])
    return {"python_version": major_minor, "python_full_version": python, "sys_platform": "linux",
            "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}


@pytest.mark.parametrize("python", ["3.11.0", "3.11.2", "3.11.3", "3.11.14", "3.12.0", "3.13.1", "3.14.0"])
def test_lock_is_complete_for_every_allowed_python(python: str) -> None:
    """What `pip install --no-deps -r requirements.lock && pip check` would say on that Python (offline: the
    requirements of each locked package come from its installed metadata here)."""
    env = _environment(python)
    chosen: dict[str, str] = {}
    for name, version, marker in _lock():
        if marker is None or marker.evaluate(env):
            assert name not in chosen, f"{name} pinned twice for Python {python}"
            chosen[name] = version
    project = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    wanted = [r for r in project if r.marker is None or r.marker.evaluate(env)]
    problems = [f"order-support needs {r}" for r in wanted if canonicalize_name(r.name) not in chosen]
    for name in chosen:
        try:
            if metadata.version(name) != chosen[name]:
                continue  # another version here: its metadata would not tell (the image's pip check does)
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. async-timeout on 3.11.7): its own needs are checked in the image
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            if canonicalize_name(req.name) not in chosen:
                problems.append(f"{name} needs {req}")
    assert problems == [], problems
    if tuple(int(p) for p in python.split(".")) < (3, 11, 3):
        assert "async-timeout" in chosen  # redis on 3.11.0–3.11.2: the image crash-looped without it


def test_dockerfile_pins_a_patch_release_runs_pip_check_and_an_init() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+( AS build)?", b) or
                         re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", b) for b in bases), bases
    assert "pip check" in text
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in text
