"""Shared API value types: decimal strings for money, aware timestamps, strict bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        # Floats cannot carry money exactly; the contract sends decimal strings.
        raise ValueError("send amounts as decimal strings such as \"12.50\", not JSON numbers")
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("must be a decimal string such as \"12.50\"") from exc
    if not result.is_finite():
        raise ValueError("must be a finite decimal string such as \"12.50\"")
    return result


def format_decimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        whole, _, frac = text.partition(".")
        text = whole + "." + frac.ljust(2, "0")
    else:
        text = text + ".00"
    return text


DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_parse_decimal),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["499.00"]}),
]


def _utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str, when_used="json")]
AwareTimestamp = Annotated[AwareDatetime, PlainSerializer(_utc_iso, return_type=str, when_used="json")]


class StrictBody(BaseModel):
    """Request bodies: unknown fields are a 422 (a typo should not be silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
