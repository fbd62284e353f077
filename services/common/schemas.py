"""Shared API value types: decimal strings for money, aware timestamps, strict bodies."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
)

# Money columns are NUMERIC(38, 18): at most 20 digits before the point and 18 after. Each decimal type's
# pattern is exactly what its parser accepts, so the OpenAPI and the behaviour agree.
MONEY_INT_DIGITS, MONEY_SCALE = 20, 18
MONEY_LIMIT = Decimal(10) ** MONEY_INT_DIGITS
_FRACTION = rf"(\.\d{{1,{MONEY_SCALE}}})?"
DECIMAL_PATTERN = rf"^-?\d{{1,{MONEY_INT_DIGITS}}}{_FRACTION}$"
NON_NEGATIVE_PATTERN = rf"^\d{{1,{MONEY_INT_DIGITS}}}{_FRACTION}$"
# Greater than zero: a whole part without leading zeros, or 0.<k zeros><a non-zero digit><the rest>.
POSITIVE_PATTERN = (rf"^[1-9]\d{{0,{MONEY_INT_DIGITS - 1}}}{_FRACTION}$|^0\.(?:"
                    + "|".join(f"0{{{k}}}[1-9]\\d{{0,{MONEY_SCALE - 1 - k}}}" for k in range(MONEY_SCALE)) + ")$")


def _decimal_parser(pattern: str) -> Callable[[Any], Decimal]:
    compiled = re.compile(pattern.replace("$", r"\Z"))  # Python's $ also matches before a final newline

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal):  # our own values on the way out
            return value
        if not isinstance(value, str):
            # Numbers cannot carry money exactly (and the schema says string): the contract sends decimal strings.
            raise ValueError("send amounts as decimal strings such as \"12.50\", not JSON numbers")
        if not compiled.match(value):
            raise ValueError(f"must be a decimal string such as \"12.50\" (at most {MONEY_INT_DIGITS} digits "
                             f"before the point and {MONEY_SCALE} after, no exponent)"
                             + ("" if pattern == DECIMAL_PATTERN else ", greater than zero"
                                if pattern == POSITIVE_PATTERN else ", not negative"))
        return Decimal(value)

    return parse


def format_decimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        whole, _, frac = text.partition(".")
        text = whole + "." + frac.ljust(2, "0")
    else:
        text = text + ".00"
    return text


_AS_TEXT = PlainSerializer(format_decimal, return_type=str, when_used="json")
DecimalStr = Annotated[Decimal, BeforeValidator(_decimal_parser(DECIMAL_PATTERN)), _AS_TEXT,
                       WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["499.00"]})]
PositiveDecimalStr = Annotated[Decimal, BeforeValidator(_decimal_parser(POSITIVE_PATTERN)), _AS_TEXT,
                               WithJsonSchema({"type": "string", "pattern": POSITIVE_PATTERN, "examples": ["499.00"]})]
NonNegativeDecimalStr = Annotated[Decimal, BeforeValidator(_decimal_parser(NON_NEGATIVE_PATTERN)), _AS_TEXT,
                                  WithJsonSchema({"type": "string", "pattern": NON_NEGATIVE_PATTERN,
                                                  "examples": ["499.00"]})]


def _utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_int(value: Any) -> Any:
    # JSON Schema's integer: 3 and 3.0 are both integers; "3" and true are not (pydantic's lax mode takes them).
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError("must be a JSON integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int)]


# What a business timestamp may be: later dates are typos or clock faults, earlier ones overflow on the way to UTC.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _within_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("timestamp out of range") from exc
    if not EARLIEST <= utc < LATEST:
        raise ValueError("timestamp out of range: between 1970 and 2200")
    return value


def _not_a_number(value: Any) -> Any:
    # A JSON number is not a timestamp (pydantic would read 0 as 1970-01-01): the contract sends ISO 8601 text.
    if isinstance(value, int | float) and not isinstance(value, datetime):
        raise ValueError("send timestamps as ISO 8601 text with an offset, such as \"2026-11-01T10:00:00+08:00\"")
    return value


Timestamp = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str, when_used="json")]
AwareTimestamp = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_within_range),
                           PlainSerializer(_utc_iso, return_type=str, when_used="json")]

# Text the databases cannot store: PostgreSQL refuses NUL in text and JSON, and a lone surrogate cannot be UTF-8.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string in a parsed JSON value that cannot be stored, or None."""
    if isinstance(value, str):
        return path or "body" if UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            if UNSTORABLE.search(key_text):
                return f"{path}.{key_text!r}" if path else repr(key_text)
            found = unstorable_text(item, f"{path}.{key_text}" if path else key_text)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def _storable(value: Any) -> Any:
    found = unstorable_text(value)
    if found:
        raise ValueError("text must not contain NUL characters or lone surrogates"
                         + ("" if isinstance(value, str) else f" (at {found})"))
    return value


_STORABLE_TEXT = AfterValidator(_storable)


def _holds_text(annotation: Any) -> bool:
    if annotation is str or annotation is Any or annotation is dict or annotation is list:
        return True
    return any(_holds_text(arg) for arg in get_args(annotation) if not isinstance(arg, str | int | float))


class StrictBody(BaseModel):
    """Request bodies: unknown fields are a 422 (a typo should not be silently dropped), and no text field of
    any body may hold a NUL or a lone surrogate (neither database can store them): each subclass's fields that
    hold text get that check, per string (cheap, and JSON-mode validation stays fast)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for field in cls.model_fields.values():
            if _holds_text(field.annotation) and _STORABLE_TEXT not in field.metadata:
                field.metadata.append(_STORABLE_TEXT)
                changed = True
        if changed:
            cls.model_rebuild(force=True, raise_errors=False)


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
