"""The two languages the desks answer in, chosen from Accept-Language."""

from __future__ import annotations

from typing import Any


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "—"


def fill(template: str, params: dict[str, Any]) -> str:
    """A catalog sentence with its facts; a fact we do not have shows as a dash, never as a KeyError."""
    return template.format_map(_Blank({k: "—" if v is None else v for k, v in params.items()}))


def pick_language(accept_language: str | None) -> str:
    """`zh-CN`, `zh`, `zh-Hans`... → zh-CN; anything else → en. Honors q-weights order as sent."""
    if not accept_language:
        return "en"
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en") or tag == "*":
            return "en"
    return "en"
