"""The real public sample payloads from ../shared/fixtures, vendored in tests/data (see SOURCES.md there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parent / "data"


def load(kind: str, name: str) -> Any:
    return json.loads((SHARED / kind / name).read_text())


def aftership() -> dict[str, Any]:
    return load("carriers", "aftership_tracking_update_webhook_v4_example.json")  # type: ignore[no-any-return]


def easypost() -> dict[str, Any]:
    return load("carriers", "easypost_tracker_updated_webhook_event.json")  # type: ignore[no-any-return]
