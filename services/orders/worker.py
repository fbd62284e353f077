"""Background worker (filled in by the hooks issue)."""

from __future__ import annotations

from services.common.settings import Settings


async def run_worker(settings: Settings, *, once: bool = False) -> None:
    raise SystemExit("the worker has no jobs yet: chain re-checks and parcel sweeps are not built (issue 6)")
