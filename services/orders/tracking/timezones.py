"""Where a sender gives local time without an offset (AfterShip's checkpoint_time), find the place's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.common.zones import LATEST_ZONE, SINGLE_ZONE, SUBDIVISION_ZONES, country_code, subdivision_code


def iso2(country: str | None) -> str | None:
    """ISO 3166-1 alpha-2 of a country given by code or name; an unknown value is kept (upper case) as said."""
    if not country or not country.strip():
        return None
    return country_code(country) or country.strip().upper()


def zone_for(country: str | None, state: str | None, place: str | None = None) -> str | None:
    """The zone of a sender's place; None when it cannot be known (the time is then flagged as assumed UTC)."""
    code = iso2(country)
    if code in LATEST_ZONE:  # a country of several zones: only its region says which
        if state:
            sub = subdivision_code(code, state)
            return SUBDIVISION_ZONES.get(sub) if sub else None
        # USPS facility names carry the state: "WEST PALM BEACH FL DISTRIBUTION CENTER".
        for token in reversed((place or "").replace(",", " ").split()):
            if f"{code}-{token}" in SUBDIVISION_ZONES:
                return SUBDIVISION_ZONES[f"{code}-{token}"]
        return None
    return SINGLE_ZONE.get(code or "")


def local_to_utc(text: str, country: str | None, state: str | None,
                 place: str | None = None) -> tuple[datetime, str]:
    """Read a sender's timestamp; returns the UTC time and how its zone was known."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        return value.astimezone(UTC), "offset"
    zone = zone_for(country, state, place)
    if zone:
        return value.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), zone
    # No offset and no known zone: UTC is an assumption, and the event says so in raw.time_zone.
    return value.replace(tzinfo=UTC), "assumed_utc"


CHINA = ZoneInfo("Asia/Shanghai")


def china_time(text: str) -> tuple[datetime, str]:
    """Chinese providers (Kuaidi100, Kdniao) stamp China Standard Time without an offset:
    "2022-06-30 10:34:33", "2016/12/21 14:23:19", "2015-3-11 16:21:06". An explicit offset wins."""
    value = text.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC), "offset"
    return parsed.replace(tzinfo=CHINA).astimezone(UTC), "Asia/Shanghai"
