"""Reading docker-compose.yml as compose does: anchors and merge keys (YAML), ${VAR}, ${VAR:-default} and
${VAR:?error} interpolation, and the dependency order."""

from __future__ import annotations

import re
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name)
        if op in (":-", "-"):
            return current if current not in (None, "") or (op == "-" and current is not None) else arg
        if op in (":?", "?"):
            if current in (None, "") if op == ":?" else current is None:
                raise MissingVariable(f"{name}: {arg}")
            return str(current)
        return current or ""

    return PATTERN.sub(replace, value)


def resolve(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolve(n, env) for n in node]
    if isinstance(node, dict):
        return {k: resolve(v, env) for k, v in node.items()}
    return node


def load(env: dict[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    return resolve(raw, env)  # type: ignore[no-any-return]


def start_order(services: dict[str, Any], wanted: list[str]) -> list[str]:
    graph = {name: set((services[name].get("depends_on") or {}).keys()) & set(wanted) for name in wanted}
    return list(TopologicalSorter(graph).static_order())
