"""A small HTTP proxy that adds a fixed delay to every round trip to the node (a public RPC endpoint's
latency) and counts what passes through: HTTP requests, JSON-RPC calls, and sequential round trips (how many
times the proxy went from idle to busy: requests sent together count once, as they cost one latency).
Run: python bench/latency_proxy.py TARGET PORT DELAY_MS"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TARGET, PORT, DELAY = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000
STATS = {"requests": 0, "calls": 0, "round_trips": 0, "in_flight": 0}
client = httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200))


async def forward(request: Request) -> Response:
    body = await request.body()
    STATS["requests"] += 1
    if STATS["in_flight"] == 0:
        STATS["round_trips"] += 1
    STATS["in_flight"] += 1
    try:
        parsed = json.loads(body)
        STATS["calls"] += len(parsed) if isinstance(parsed, list) else 1
    except ValueError:
        pass
    try:
        await asyncio.sleep(DELAY)
        upstream = await client.post(TARGET, content=body, headers={"content-type": "application/json"})
    finally:
        STATS["in_flight"] -= 1
    return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")


async def stats(request: Request) -> JSONResponse:
    return JSONResponse(STATS)


async def reset(request: Request) -> JSONResponse:
    STATS.update(requests=0, calls=0, round_trips=0)
    return JSONResponse(STATS)


app = Starlette(routes=[Route("/", forward, methods=["POST"]), Route("/stats", stats),
                        Route("/reset", reset, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
