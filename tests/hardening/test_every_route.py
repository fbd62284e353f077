"""Every route of both services, read from their OpenAPI: a NUL, a lone surrogate, a huge string and an
out-of-range integer in each path parameter, each query parameter and every text field of the body are a
4xx problem, never a 5xx (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import AGENT, auth

NUL, SURROGATE, HUGE_INT = "a\x00b", "a\ud800b", 2**80
BAD_TEXT = (NUL, SURROGATE, "x" * 20_000)
SERVICES = {"": "/openapi.json", "/wallet": "/wallet/openapi.json"}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _poisoned(spec: dict[str, Any], schema: dict[str, Any], text: Any, depth: int = 0) -> Any:
    """A body shaped like the schema with every text field `text` and every integer out of range."""
    schema = _resolve(spec, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(spec, s).get("type") != "null"]
            return _poisoned(spec, options[0], text, depth) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {name: _poisoned(spec, sub, text, depth + 1) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_poisoned(spec, schema.get("items", {}), text, depth + 1)]
    if kind == "integer":
        return HUGE_INT
    if kind == "number":
        return 1e300
    if kind == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return text


async def _operations(client: httpx.AsyncClient) -> list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    found = []
    for prefix, location in SERVICES.items():
        spec = (await client.get(location)).json()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    found.append((prefix, method.upper(), path, operation, spec))
    return found


def _fill(path: str, operation: dict[str, Any], value: str) -> str:
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", quote(value, safe="", errors="surrogatepass"))
    return path


def _check(resp: httpx.Response, what: str, problems: list[str], documented: dict[str, Any]) -> None:
    if str(resp.status_code) not in documented and resp.status_code not in (405,):
        problems.append(f"{what}: {resp.status_code} is not in the OpenAPI ({sorted(documented)})")
    if resp.status_code == 503 and (resp.json().get("type", "").endswith("webhooks-not-configured")
                                    or resp.headers.get("retry-after")):
        return  # a sender without its secret configured, a chain's nodes unreachable: not about the input
    if resp.status_code >= 500:
        problems.append(f"{what}: {resp.status_code} {resp.text[:300]}")
    elif resp.status_code >= 400 and not resp.headers["content-type"].startswith("application/problem+json"):
        problems.append(f"{what}: {resp.status_code} as {resp.headers['content-type']}")


@pytest.mark.parametrize("bad", ["nul", "surrogate", "huge", "integer"])
async def test_every_parameter_and_text_field(client: httpx.AsyncClient, bad: str) -> None:
    operations = await _operations(client)
    assert len(operations) > 25
    text = {"nul": NUL, "surrogate": SURROGATE, "huge": "x" * 20_000, "integer": str(HUGE_INT)}[bad]
    tested = 0
    problems: list[str] = []
    for prefix, method, path, operation, spec in operations:
        what = f"{method} {prefix}{path} ({bad})"
        # Path parameters (percent-encoded as a client would; a lone surrogate as its UTF-8-ish bytes).
        if "{" in path:
            url = prefix + _fill(path, operation, text if bad != "surrogate" else "a\udcedb")
            resp = await client.request(method, url, headers=auth(AGENT), json={} if method != "GET" else None)
            _check(resp, what + " path", problems, operation["responses"])
            tested += 1
        plain = prefix + _fill(path, operation, "x1")
        # Query parameters, one at a time.
        for param in operation.get("parameters", []):
            if param["in"] != "query":
                continue
            raw = quote(text, safe="", errors="surrogatepass")
            resp = await client.request(method, f"{plain}?{param['name']}={raw}", headers=auth(AGENT))
            _check(resp, f"{what} query {param['name']}", problems, operation["responses"])
            tested += 1
        # The body, every text field poisoned at once (and integers out of range).
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            body = _poisoned(spec, content["application/json"].get("schema", {}), text)
            payload = json.dumps(body, ensure_ascii=True).encode()  # \u0000 and \ud800 as JSON escapes
            resp = await client.request(method, plain, content=payload,
                                        headers={**auth(AGENT), "content-type": "application/json"})
            _check(resp, what + " body", problems, operation["responses"])
            tested += 1
    assert tested > 40
    assert problems == []
