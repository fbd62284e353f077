"""The two services never import each other: they meet over HTTP (or an ASGI transport in one process)."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_orders_and_wallet_support_do_not_import_each_other() -> None:
    crossings = []
    for service, other in (("orders", "services.wallet_support"), ("wallet_support", "services.orders")):
        for path in (SERVICES / service).rglob("*.py"):
            crossings += [(str(path.relative_to(SERVICES)), m) for m in imported_modules(path)
                          if m == other or m.startswith(other + ".")]
    assert crossings == []


def test_the_check_sees_imports() -> None:
    assert "services.orders.clients.wallet" in imported_modules(SERVICES / "orders" / "flows.py")
