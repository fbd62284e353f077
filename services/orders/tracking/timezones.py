"""Where a sender gives local time without an offset (AfterShip's checkpoint_time), find the place's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

ISO3_TO_ISO2 = {
    "USA": "US", "CHN": "CN", "HKG": "HK", "MAC": "MO", "TWN": "TW", "JPN": "JP", "KOR": "KR", "SGP": "SG",
    "GBR": "GB", "DEU": "DE", "FRA": "FR", "ITA": "IT", "ESP": "ES", "NLD": "NL", "BEL": "BE", "CHE": "CH",
    "AUT": "AT", "POL": "PL", "SWE": "SE", "NOR": "NO", "DNK": "DK", "FIN": "FI", "IRL": "IE", "PRT": "PT",
    "CAN": "CA", "AUS": "AU", "NZL": "NZ", "IND": "IN", "THA": "TH", "VNM": "VN", "MYS": "MY", "IDN": "ID",
    "PHL": "PH", "ARE": "AE", "SAU": "SA", "ISR": "IL", "TUR": "TR", "RUS": "RU", "BRA": "BR", "MEX": "MX",
    "ZAF": "ZA", "CZE": "CZ", "HUN": "HU", "GRC": "GR", "ROU": "RO", "UKR": "UA",
}

# Countries that keep one civil time zone.
SINGLE_ZONE = {
    "CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong", "MO": "Asia/Macau", "TW": "Asia/Taipei", "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul", "SG": "Asia/Singapore", "GB": "Europe/London", "DE": "Europe/Berlin",
    "FR": "Europe/Paris", "IT": "Europe/Rome", "ES": "Europe/Madrid", "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels", "CH": "Europe/Zurich", "AT": "Europe/Vienna", "PL": "Europe/Warsaw",
    "SE": "Europe/Stockholm", "NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki",
    "IE": "Europe/Dublin", "IN": "Asia/Kolkata", "TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh",
    "MY": "Asia/Kuala_Lumpur", "PH": "Asia/Manila", "AE": "Asia/Dubai", "SA": "Asia/Riyadh",
    "IL": "Asia/Jerusalem", "TR": "Europe/Istanbul", "ZA": "Africa/Johannesburg", "CZ": "Europe/Prague",
    "HU": "Europe/Budapest", "GR": "Europe/Athens", "RO": "Europe/Bucharest", "UA": "Europe/Kyiv",
    "NZ": "Pacific/Auckland",
}

_US_EASTERN = "CT DE DC FL GA ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV IN KY"
_US_CENTRAL = "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI"
_US_MOUNTAIN = "CO MT NM UT WY ID"
US_STATES: dict[str, str] = {
    **dict.fromkeys(_US_EASTERN.split(), "America/New_York"),
    **dict.fromkeys(_US_CENTRAL.split(), "America/Chicago"),
    **dict.fromkeys(_US_MOUNTAIN.split(), "America/Denver"),
    "AZ": "America/Phoenix", "CA": "America/Los_Angeles", "NV": "America/Los_Angeles", "OR": "America/Los_Angeles",
    "WA": "America/Los_Angeles", "AK": "America/Anchorage", "HI": "Pacific/Honolulu", "PR": "America/Puerto_Rico",
}


def iso2(country: str | None) -> str | None:
    if not country:
        return None
    code = country.strip().upper()
    return ISO3_TO_ISO2.get(code, code) if len(code) == 3 else code


def zone_for(country: str | None, state: str | None, place: str | None = None) -> str | None:
    code = iso2(country)
    if code == "US":
        if state:
            return US_STATES.get(state.strip().upper())
        # USPS facility names carry the state: "WEST PALM BEACH FL DISTRIBUTION CENTER".
        for token in reversed((place or "").replace(",", " ").split()):
            if token in US_STATES:
                return US_STATES[token]
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
