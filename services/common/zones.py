"""Which civil time zone a place keeps: from coordinates (timezonefinder's offline polygons), else from the
country and region (pycountry's ISO 3166-2 names and codes, and the zone each subdivision keeps).

Shared by return windows (services/orders/diagnosis/returns.py) and whoever reads local times of a place.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pycountry
from timezonefinder import TimezoneFinder

_EASTERN = "CT DE DC FL GA ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV IN KY"
_CENTRAL = "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI"
_MOUNTAIN = "CO MT NM UT WY ID"

# The zone each first-level subdivision keeps (where a subdivision spans two, the one most of its people keep).
SUBDIVISION_ZONES: dict[str, str] = {
    **{f"US-{s}": "America/New_York" for s in _EASTERN.split()},
    **{f"US-{s}": "America/Chicago" for s in _CENTRAL.split()},
    **{f"US-{s}": "America/Denver" for s in _MOUNTAIN.split()},
    "US-AZ": "America/Phoenix", "US-CA": "America/Los_Angeles", "US-NV": "America/Los_Angeles",
    "US-OR": "America/Los_Angeles", "US-WA": "America/Los_Angeles", "US-AK": "America/Anchorage",
    "US-HI": "Pacific/Honolulu", "US-PR": "America/Puerto_Rico",
    "CA-AB": "America/Edmonton", "CA-BC": "America/Vancouver", "CA-MB": "America/Winnipeg",
    "CA-NB": "America/Moncton", "CA-NL": "America/St_Johns", "CA-NS": "America/Halifax",
    "CA-NT": "America/Edmonton", "CA-NU": "America/Iqaluit", "CA-ON": "America/Toronto",
    "CA-PE": "America/Halifax", "CA-QC": "America/Toronto", "CA-SK": "America/Regina",
    "CA-YT": "America/Whitehorse",
    "AU-ACT": "Australia/Sydney", "AU-NSW": "Australia/Sydney", "AU-NT": "Australia/Darwin",
    "AU-QLD": "Australia/Brisbane", "AU-SA": "Australia/Adelaide", "AU-TAS": "Australia/Hobart",
    "AU-VIC": "Australia/Melbourne", "AU-WA": "Australia/Perth",
    **{f"BR-{s}": "America/Sao_Paulo" for s in "DF GO MG ES RJ SP PR SC RS".split()},
    **{f"BR-{s}": "America/Fortaleza" for s in "MA PI CE RN PB".split()},
    "BR-AC": "America/Rio_Branco", "BR-AM": "America/Manaus", "BR-RR": "America/Boa_Vista",
    "BR-RO": "America/Porto_Velho", "BR-MT": "America/Cuiaba", "BR-MS": "America/Campo_Grande",
    "BR-PA": "America/Belem", "BR-AP": "America/Belem", "BR-TO": "America/Araguaina", "BR-PE": "America/Recife",
    "BR-AL": "America/Maceio", "BR-SE": "America/Maceio", "BR-BA": "America/Bahia",
    **{f"MX-{s}": "America/Mexico_City" for s in ("AGU CAM CHP CMX COA COL DUR GRO GUA HID JAL MEX MIC MOR NLE "
                                                   "OAX PUE QUE SLP TAB TAM TLA VER YUC ZAC").split()},
    "MX-BCN": "America/Tijuana", "MX-BCS": "America/Mazatlan", "MX-SON": "America/Hermosillo",
    "MX-SIN": "America/Mazatlan", "MX-NAY": "America/Mazatlan", "MX-CHH": "America/Chihuahua",
    "MX-ROO": "America/Cancun",
    **{f"ID-{s}": "Asia/Jakarta" for s in "AC SU SB RI JA SS BB BE LA KR JK JB BT JT YO JI KB KT JW SM".split()},
    **{f"ID-{s}": "Asia/Makassar" for s in "BA NB NT KS KI KU SA ST SG SN SR GO NU SL".split()},
    **{f"ID-{s}": "Asia/Jayapura" for s in "MA MU PA PB PD PE PS PT ML PP".split()},
    **{f"RU-{s}": "Europe/Moscow" for s in "MOW SPE MOS LEN TA KDA ROS NIZ VOR KRS BEL TUL YAR".split()},
    "RU-KGD": "Europe/Kaliningrad", "RU-SAM": "Europe/Samara", "RU-SVE": "Asia/Yekaterinburg",
    "RU-CHE": "Asia/Yekaterinburg", "RU-BA": "Asia/Yekaterinburg", "RU-PER": "Asia/Yekaterinburg",
    "RU-OMS": "Asia/Omsk", "RU-NVS": "Asia/Novosibirsk", "RU-KYA": "Asia/Krasnoyarsk", "RU-IRK": "Asia/Irkutsk",
    "RU-PRI": "Asia/Vladivostok", "RU-KHA": "Asia/Vladivostok", "RU-SA": "Asia/Yakutsk", "RU-MAG": "Asia/Magadan",
    "RU-KAM": "Asia/Kamchatka",
}

# Countries with several zones, when the region is unknown: the westernmost, whose day ends last, so that a
# deadline "at the end of the local day" is never earlier than the customer's own.
LATEST_ZONE = {"US": "Pacific/Honolulu", "CA": "America/Vancouver", "AU": "Australia/Perth",
               "BR": "America/Rio_Branco", "MX": "America/Tijuana", "RU": "Europe/Kaliningrad", "ID": "Asia/Jakarta"}

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
    "NZ": "Pacific/Auckland", "PT": "Europe/Lisbon",
}


@lru_cache(maxsize=1)
def _finder() -> TimezoneFinder:
    return TimezoneFinder()


def zone_at(lat: Any, lon: Any) -> str | None:
    """The zone at a point (offline polygons; None at sea or for a bad point)."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return None
    return _zone_at_point(lat_f, lon_f)


@lru_cache(maxsize=65536)
def _zone_at_point(lat: float, lon: float) -> str | None:
    # A polygon search per call (tens of microseconds); an order's address is looked up by every diagnosis.
    return _finder().timezone_at(lat=lat, lng=lon)


@lru_cache(maxsize=4096)
def country_code(country: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from an alpha-2, alpha-3 or name ("US", "USA", "United States")."""
    if not country or not country.strip():
        return None
    text = country.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


@lru_cache(maxsize=4096)
def subdivision_code(country: str | None, region: str | None) -> str | None:
    """ISO 3166-2 code of a region given by code ("CA", "US-CA") or name ("California", "New South Wales")."""
    code = country_code(country)
    if not code or not region or not region.strip():
        return None
    text = region.strip()
    candidates = [f"{code}-{text.upper()}", text.upper()]
    for candidate in candidates:
        found = pycountry.subdivisions.get(code=candidate)
        if found is not None and found.country_code == code:
            return str(found.code)
    folded = text.casefold()
    for sub in pycountry.subdivisions.get(country_code=code) or []:
        if sub.name.casefold() == folded:
            return str(sub.code)
    try:
        found = pycountry.subdivisions.lookup(text)
    except LookupError:
        return None
    return str(found.code) if found.country_code == code else None


def region_zone(country: str | None, region: str | None) -> str | None:
    """The zone of a country and region, without coordinates: None when the country is unknown."""
    code = country_code(country)
    if code is None:
        return None
    sub = subdivision_code(code, region)
    if sub and sub in SUBDIVISION_ZONES:
        return SUBDIVISION_ZONES[sub]
    return SINGLE_ZONE.get(code) or LATEST_ZONE.get(code)


def place_zone(place: dict[str, Any] | None) -> tuple[str | None, str]:
    """The zone of an address or a carrier's location dict, and how it was found: coordinates, region, none."""
    place = place or {}
    by_point = zone_at(place.get("lat"), place.get("lon")) if place.get("lat") is not None else None
    if by_point:
        return by_point, "coordinates"
    by_region = region_zone(place.get("country"), place.get("region") or place.get("state"))
    if by_region:
        return by_region, "region"
    return None, "none"
