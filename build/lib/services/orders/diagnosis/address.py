"""Was the parcel delivered where it was supposed to go? A pure function with its evidence."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz

from services.orders.tracking.timezones import iso2

Verdict = Literal["match", "near", "mismatch", "unknown"]

ABBREVIATIONS = {
    "st": "street", "str": "street", "rd": "road", "ave": "avenue", "av": "avenue", "blvd": "boulevard",
    "dr": "drive", "ln": "lane", "ct": "court", "pl": "place", "sq": "square", "hwy": "highway", "pkwy": "parkway",
    "apt": "apartment", "ste": "suite", "bldg": "building", "fl": "floor", "rm": "room", "no": "number",
    "n": "north", "s": "south", "e": "east", "w": "west", "ne": "northeast", "nw": "northwest",
    "se": "southeast", "sw": "southwest", "mt": "mount", "ft": "fort", "cres": "crescent", "terr": "terrace",
}
# Administrative suffixes of Chinese place names: 上海市 = 上海, 浦东新区 = 浦东.
CJK_ADMIN = re.compile(r"([\u4e00-\u9fff]{2,}?)(特别行政区|自治区|自治州|新区|省|市|区|县|盟|旗)")
CJK = r"\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class AddressCheck:
    verdict: Verdict
    method: str
    evidence: dict[str, Any] = field(default_factory=dict)


def normalize_text(text: str | None) -> str:
    """Case, punctuation, full-width forms, abbreviations and Chinese administrative suffixes folded away."""
    if not text:
        return ""
    value = unicodedata.normalize("NFKC", text).casefold()
    value = CJK_ADMIN.sub(r"\1", value)
    value = value.replace("號", "号")
    value = re.sub(r"[^\w\s]", " ", value)
    tokens = [ABBREVIATIONS.get(tok, tok) for tok in value.split()]
    value = " ".join(tokens)
    # Chinese and Japanese addresses have no spaces between words; drop the ones writers add.
    value = re.sub(rf"(?<=[{CJK}])\s+|\s+(?=[{CJK}])", "", value)
    return value


def _place(value: str | None) -> str:
    return normalize_text(value).replace(" ", "")


def _postal(value: str | None) -> str:
    return re.sub(r"[\s\-]", "", value or "").upper()


def _street_name(text: str) -> str:
    return re.sub(r"\s+", " ", NUMBER.sub(" ", text)).strip()


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def check_delivery_address(expected: dict[str, Any] | None, delivered: dict[str, Any] | None, *,
                           match_km: float = 0.3, mismatch_km: float = 2.0) -> AddressCheck:
    """(shipping address, delivered location) → match | near | mismatch | unknown, with the facts behind it."""
    if not expected or not delivered:
        return AddressCheck("unknown", "none", {"reason": "no shipping address" if not expected
                                                 else "the carrier gave no delivered location"})
    if _has_coordinates(expected) and _has_coordinates(delivered):
        distance = haversine_km(expected["lat"], expected["lon"], delivered["lat"], delivered["lon"])
        verdict: Verdict = "match" if distance <= match_km else "mismatch" if distance >= mismatch_km else "near"
        return AddressCheck(verdict, "coordinates", {
            "distance_km": round(distance, 3), "match_km": match_km, "mismatch_km": mismatch_km,
            "delivered_location": delivered})
    return _compare_text(expected, delivered)


def _has_coordinates(place: dict[str, Any]) -> bool:
    return isinstance(place.get("lat"), int | float) and isinstance(place.get("lon"), int | float)


def _compare_text(expected: dict[str, Any], delivered: dict[str, Any]) -> AddressCheck:
    differs: dict[str, Any] = {}
    agrees: list[str] = []
    evidence: dict[str, Any] = {"differs": differs, "agrees": agrees, "delivered_location": delivered}

    exp_country, del_country = iso2(expected.get("country")), iso2(delivered.get("country"))
    if exp_country and del_country:
        if exp_country != del_country:
            differs["country"] = {"expected": exp_country, "delivered": del_country}
            return AddressCheck("mismatch", "address_text", evidence)
        agrees.append("country")

    exp_postal, del_postal = _postal(expected.get("postal_code")), _postal(delivered.get("postal_code"))
    postal_same: bool | None = None
    if exp_postal and del_postal:
        postal_same = exp_postal == del_postal
        (agrees.append("postal_code") if postal_same
         else differs.__setitem__("postal_code", {"expected": exp_postal, "delivered": del_postal}))

    city_same = _city_same(expected, delivered, differs, agrees)
    if city_same is False or (postal_same is False and city_same is not True):
        return AddressCheck("mismatch", "address_text", evidence)

    exp_street = normalize_text(" ".join(str(expected.get(k) or "") for k in ("line1",)))
    del_street = normalize_text(delivered.get("address") or delivered.get("line1"))
    if not exp_street or not del_street:
        evidence["reason"] = "the carrier gave no street address; only the area can be compared"
        return AddressCheck("unknown", "address_text", evidence)

    name_score = _similarity(_street_name(exp_street), _street_name(del_street))
    exp_numbers, del_numbers = NUMBER.findall(exp_street), [n for n in NUMBER.findall(del_street)
                                                           if n not in (exp_postal, del_postal)]
    evidence["street_similarity"] = round(name_score, 1)
    if name_score < 60:
        differs["street"] = {"expected": expected.get("line1"), "delivered": delivered.get("address"),
                             "similarity": round(name_score, 1)}
        return AddressCheck("mismatch", "address_text", evidence)
    if name_score < 85:
        differs["street"] = {"similarity": round(name_score, 1)}
        return AddressCheck("near", "address_text", evidence)
    agrees.append("street")
    house_expected = exp_numbers[0] if exp_numbers else None
    if house_expected and del_numbers and house_expected not in del_numbers:
        differs["house_number"] = {"expected": house_expected, "delivered": del_numbers[0]}
        if postal_same is False:
            return AddressCheck("mismatch", "address_text", evidence)
        return AddressCheck("near", "address_text", evidence)
    if postal_same is False:
        return AddressCheck("near", "address_text", evidence)
    if house_expected and del_numbers:
        agrees.append("house_number")
    return AddressCheck("match", "address_text", evidence)


def _city_same(expected: dict[str, Any], delivered: dict[str, Any], differs: dict[str, Any],
               agrees: list[str]) -> bool | None:
    exp_city, del_city = _place(expected.get("city")), _place(delivered.get("city"))
    if not exp_city or not del_city:
        return None
    score = fuzz.ratio(exp_city, del_city)
    # Carriers often put a facility or district in the city field ("WEST PALM BEACH FL DISTRIBUTION CENTER").
    contained = exp_city in del_city or del_city in exp_city
    if score >= 85 or contained:
        agrees.append("city")
        return True
    differs["city"] = {"expected": expected.get("city"), "delivered": delivered.get("city"),
                       "similarity": round(score, 1)}
    return False


def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if re.search(rf"[{CJK}]", a + b):
        # Without word boundaries, compare characters; one side often carries the province and city too.
        return float(max(fuzz.ratio(a, b), fuzz.partial_ratio(a, b) if min(len(a), len(b)) >= 3 else 0))
    return float(fuzz.token_set_ratio(a, b))
