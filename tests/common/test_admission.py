"""The request middleware admits at most MAX_IN_FLIGHT requests at once, in arrival order; probes bypass it."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from services.common.observability import MAX_IN_FLIGHT, RequestContextMiddleware


async def test_in_flight_requests_are_bounded_and_served_in_order() -> None:
    running, peak, order = 0, 0, []
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal running, peak
        if scope["path"] != "/healthz":
            running += 1
            peak = max(peak, running)
            order.append(int(scope["path"].rsplit("/", 1)[1]))
            await release.wait()
            running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guarded = RequestContextMiddleware(app, service="test", max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://t") as client:
        tasks = []
        for n in range(MAX_IN_FLIGHT + 10):
            tasks.append(asyncio.create_task(client.get(f"/work/{n}")))
            await asyncio.sleep(0)
        for _ in range(50):
            await asyncio.sleep(0)
        assert running == MAX_IN_FLIGHT  # the rest wait their turn
        probe = await asyncio.wait_for(client.get("/healthz"), 5)  # a probe does not queue behind them
        assert probe.status_code == 200
        release.set()
        answers = await asyncio.gather(*tasks)
    assert all(a.status_code == 200 for a in answers)
    assert peak == MAX_IN_FLIGHT
    assert order == list(range(MAX_IN_FLIGHT + 10))  # admitted in arrival order
