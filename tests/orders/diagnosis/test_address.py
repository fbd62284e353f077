"""The delivered-address check on real-looking Chinese and Western addresses."""

from __future__ import annotations

import pytest

from services.orders.diagnosis.address import check_delivery_address, haversine_km, normalize_text

SHANGHAI = {"recipient": "Li Lei", "line1": "88 Century Ave", "line2": "Apt 1201", "city": "Shanghai",
            "region": "Shanghai", "postal_code": "200120", "country": "CN", "lat": 31.2304, "lon": 121.5060}
SHANGHAI_TEXT = {k: v for k, v in SHANGHAI.items() if k not in ("lat", "lon")}
SHANGHAI_ZH = {"recipient": "李雷", "line1": "浦东新区世纪大道88号", "line2": "1201室", "city": "上海市",
               "region": "上海市", "postal_code": "200120", "country": "CN"}
BROOKLYN = {"line1": "350 Fifth Avenue", "city": "New York", "region": "NY", "postal_code": "10118", "country": "US"}


class TestCoordinates:
    def test_thresholds(self) -> None:
        assert check_delivery_address(SHANGHAI, {"lat": 31.2306, "lon": 121.5062}).verdict == "match"
        near = check_delivery_address(SHANGHAI, {"lat": 31.2390, "lon": 121.5060})
        assert near.verdict == "near" and 0.9 < near.evidence["distance_km"] < 1.0
        far = check_delivery_address(SHANGHAI, {"lat": 31.2304, "lon": 121.4500})
        assert far.verdict == "mismatch" and far.method == "coordinates"

    def test_configurable_thresholds(self) -> None:
        result = check_delivery_address(SHANGHAI, {"lat": 31.2390, "lon": 121.5060}, match_km=1.5, mismatch_km=3)
        assert result.verdict == "match"

    def test_haversine_known_distance(self) -> None:
        # Shanghai People's Square to Beijing Tiananmen: about 1,067 km
        assert haversine_km(31.2304, 121.4737, 39.9087, 116.3975) == pytest.approx(1067, rel=0.01)


class TestText:
    @pytest.mark.parametrize("delivered", [
        {"address": "88 CENTURY AVENUE, APT. 1201", "city": "SHANGHAI", "postal_code": "200120", "country": "CHN"},
        {"address": "88 Century Av.", "city": "Shanghai Shi", "postal_code": "200 120", "country": "cn"},
        {"address": "８８ Ｃｅｎｔｕｒｙ Ａｖｅ", "city": "Ｓｈａｎｇｈａｉ", "country": "CN"},
    ])
    def test_same_address_written_differently_matches(self, delivered: dict[str, str]) -> None:
        assert check_delivery_address(SHANGHAI_TEXT, delivered).verdict == "match"

    @pytest.mark.parametrize("delivered", [
        {"address": "上海 浦东 世纪大道８８號", "city": "上海", "country": "CN"},
        {"address": "上海市浦东新区世纪大道88号", "city": "上海", "postal_code": "200120"},
        {"address": "中国上海市浦东新区世纪大道88号1201室", "city": "上海市"},
    ])
    def test_chinese_same_address_matches(self, delivered: dict[str, str]) -> None:
        result = check_delivery_address(SHANGHAI_ZH, delivered)
        assert result.verdict == "match", result.evidence

    def test_neighbouring_building_is_near(self) -> None:
        western = check_delivery_address(SHANGHAI_TEXT, {"address": "90 Century Avenue", "city": "Shanghai",
                                                          "postal_code": "200120", "country": "CN"})
        assert western.verdict == "near"
        assert western.evidence["differs"]["house_number"] == {"expected": "88", "delivered": "90"}
        chinese = check_delivery_address(SHANGHAI_ZH, {"address": "上海市浦东新区世纪大道100号", "city": "上海"})
        assert chinese.verdict == "near"

    def test_other_street_city_or_country_is_mismatch(self) -> None:
        street = check_delivery_address(SHANGHAI_ZH, {"address": "上海市浦东新区张杨路500号", "city": "上海"})
        assert street.verdict == "mismatch" and "street" in street.evidence["differs"]
        city = check_delivery_address(SHANGHAI_ZH, {"address": "北京市朝阳区建国路88号", "city": "北京"})
        assert city.verdict == "mismatch" and "city" in city.evidence["differs"]
        country = check_delivery_address(BROOKLYN, {"address": "350 Fifth Avenue", "city": "New York",
                                                     "country": "CA"})
        assert country.verdict == "mismatch"
        assert country.evidence["differs"]["country"] == {"expected": "US", "delivered": "CA"}

    def test_area_only_is_unknown_not_match(self) -> None:
        result = check_delivery_address(BROOKLYN, {"city": "NEW YORK", "postal_code": "10118", "country": "USA"})
        assert result.verdict == "unknown"
        assert set(result.evidence["agrees"]) == {"country", "postal_code", "city"}

    def test_missing_sides(self) -> None:
        assert check_delivery_address(None, {"city": "x"}).verdict == "unknown"
        assert check_delivery_address(BROOKLYN, None).verdict == "unknown"

    def test_normalization(self) -> None:
        assert normalize_text("88 Century Ave., Apt #1201") == "88 century avenue apartment 1201"
        assert normalize_text("上海市 浦东新区 世纪大道８８號") == "上海浦东世纪大道88号"
