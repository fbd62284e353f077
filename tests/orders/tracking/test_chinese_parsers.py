"""Kuaidi100, Kdniao and 17TRACK parsers on their recorded payloads (tests/data/carriers/SOURCES.md), the carrier
code table and the reading of Chinese scan texts."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from services.orders.tracking import carriers, kdniao, kuaidi100, seventeentrack
from services.orders.tracking.normalized import STATUSES, PayloadError
from services.orders.tracking.scan_text import read_scan
from tests.fixtures import load


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def kuaidi100_push() -> dict[str, Any]:
    return load("carriers", "kuaidi100_push_jd_station_go-tron.json")  # type: ignore[no-any-return]


class TestKuaidi100:
    def test_recorded_signature_verifies_byte_for_byte(self) -> None:
        push = kuaidi100_push()
        assert kuaidi100.sign(push["param"], push["salt"]) == push["sign"]
        body = urlencode({"param": push["param"], "sign": push["sign"]}).encode()
        assert kuaidi100.verify("123", body)
        assert not kuaidi100.verify("124", body)
        assert not kuaidi100.verify("123", urlencode({"param": push["param"] + " ", "sign": push["sign"]}).encode())

    def test_recorded_station_push(self) -> None:
        [batch] = kuaidi100.parse(json.loads(kuaidi100_push()["param"]))
        assert (batch.carrier, batch.tracking_number) == ("jd", "JD0076810060555")
        assert [e.status for e in batch.events] == ["available_for_pickup", "out_for_delivery", "in_transit",
                                                    "in_transit", "in_transit"]
        station = batch.events[0]
        # "2022-06-30 10:34:33" is China Standard Time, UTC+8, without an offset.
        assert station.occurred_at == utc(2022, 6, 30, 2, 34, 33)
        assert station.raw_status == "304:投柜或站签收"
        assert station.substatus == "pickup_station"
        assert station.location == {"country": "CN", "pickup_point": "快递驿站"}
        assert station.raw is not None and station.raw["time"] == "2022-06-30 10:34:33"
        assert station.raw["time_zone"] == "Asia/Shanghai"
        # statusCode 0 (在途) read with its text: "正在派送中" is the courier out for delivery.
        assert batch.events[1].raw_status == "0:在途"
        assert batch.events[3].raw_status == "1002:干线"
        assert batch.events[3].location == {"country": "CN", "region": "陕西", "city": "西安市"}

    def test_state_table(self) -> None:
        for code, (name, status, _) in kuaidi100.STATES.items():
            assert status in STATUSES, code
            assert kuaidi100.map_state(None, name)[0] == status
        assert kuaidi100.map_state("14") == ("exception", "refused", "14:拒签")
        assert kuaidi100.map_state("6")[0] == "returned_to_sender"
        assert kuaidi100.map_state("501")[0] == "available_for_pickup"
        with pytest.raises(PayloadError, match="unknown Kuaidi100 state"):
            kuaidi100.map_state("999")

    def test_shipment_state_applies_to_the_newest_scan_without_a_code(self) -> None:
        payload = json.loads(kuaidi100_push()["param"])
        for item in payload["lastResult"]["data"]:
            item.pop("statusCode"), item.pop("status")
        payload["lastResult"]["state"] = "3"
        payload["lastResult"]["data"][0]["context"] = "已签收,签收人是门卫签收"
        [batch] = kuaidi100.parse(payload)
        assert batch.events[0].status == "delivered"
        assert batch.events[0].location == {"delivered_to": "门卫"}
        assert batch.events[-1].status == "in_transit"

    def test_malformed(self) -> None:
        with pytest.raises(PayloadError, match=r"lastResult\.nu is missing"):
            kuaidi100.parse({"lastResult": {"com": "jd", "data": []}})
        payload = json.loads(kuaidi100_push()["param"])
        payload["lastResult"]["data"][2]["time"] = payload["lastResult"]["data"][2]["ftime"] = "yesterday"
        with pytest.raises(PayloadError, match=r"lastResult.data\[2\].time is not a date-time"):
            kuaidi100.parse(payload)


class TestKdniao:
    def test_docs_push(self) -> None:
        batches = kdniao.parse(load("carriers", "kdniao_push_ems_docs_example_lorderinterface2.json"))
        assert [(b.carrier, b.tracking_number, len(b.events)) for b in batches] == [
            ("ems", "5042260908504", 8), ("ems", "5042260943004", 8)]
        first = batches[0].events
        assert first[0].occurred_at == utc(2015, 3, 6, 13, 16, 58)
        # State 2 (在途中) describes the latest trace, whose text says it is out for delivery (安排投递).
        assert first[-1].raw_status == "2:在途中"
        assert first[-1].status == "out_for_delivery"
        assert all(e.status == "in_transit" for e in first[:-1])

    def test_station_then_collected(self) -> None:
        [batch] = kdniao.parse(load("carriers", "kdniao_push_htky_station_built_from_jiejushancheng.json"))
        assert (batch.carrier, batch.tracking_number) == ("best-express", "71780507241867")
        station, collected = batch.events[-2], batch.events[-1]
        assert station.status == "available_for_pickup"
        assert station.location == {"country": "CN", "pickup_point": "百世邻里 伟业百世邻里",
                                    "pickup_directions": "五号楼下百世（水站旁边）"}
        assert collected.status == "delivered" and collected.raw_status == "3:已签收"
        assert collected.substatus == "picked_up_by_customer"
        assert collected.location is not None and collected.location["delivered_to"] == "百世邻里 伟业百世邻里"
        assert batch.events[6].status == "out_for_delivery"  # "正在派件"

    def test_action_codes(self) -> None:
        for code, (_, status, _) in kdniao.ACTIONS.items():
            assert status in STATUSES, code
        payload = load("carriers", "kdniao_push_ems_docs_example_lorderinterface2.json")
        payload["Data"][0]["Traces"][-1]["Action"] = "412"
        payload["Data"][0]["Traces"][-2]["Action"] = "404"
        events = kdniao.parse(payload)[0].events
        assert (events[-1].status, events[-1].substatus) == ("available_for_pickup", "pickup_overdue")
        assert events[-2].status == "returned_to_sender"
        with pytest.raises(PayloadError, match="unknown Kdniao state"):
            kdniao.map_action("77")

    def test_data_sign_as_the_official_demo(self) -> None:
        # base64 of the lowercase hex MD5: 44 characters, ending in "=".
        signature = kdniao.data_sign('{"a":1}', "key")
        assert len(signature) == 44 and signature.endswith("=")
        body = urlencode({"RequestData": '{"a":1}', "DataSign": signature, "RequestType": "101"}).encode()
        assert kdniao.verify("key", body) and not kdniao.verify("other", body)

    def test_reply(self) -> None:
        answer = kdniao.reply({"EBusinessID": "1109259"}, utc(2026, 11, 26, 1, 0, 0))
        assert answer == {"EBusinessID": "1109259", "UpdateTime": "2026-11-26 09:00:00", "Success": True,
                          "Reason": ""}


class TestSeventeenTrack:
    def test_recorded_sample(self) -> None:
        [batch] = seventeentrack.parse(load("carriers", "17track_v2_tracking_updated_webhook_example.json"))
        assert (batch.carrier, batch.tracking_number) == ("china-post", "1Z2617V10397725789")
        assert [e.status for e in batch.events] == ["delivered", "out_for_delivery", "in_transit", "in_transit",
                                                    "info_received"]
        assert batch.events[0].occurred_at == utc(2022, 4, 4, 23, 35, 22)
        assert batch.events[0].location == {"city": "GASQUET", "region": "CA", "country": "US"}

    def test_stopped(self) -> None:
        [batch] = seventeentrack.parse(load("carriers", "17track_v2_tracking_stopped_docs_example.json"))
        assert (batch.carrier, batch.tracking_number, batch.events) == ("correios", "AA123456789BR", [])

    def test_built_station_push_reads_like_kuaidi100s(self) -> None:
        [seventeen] = seventeentrack.parse(load("carriers", "17track_v2_tracking_updated_jd_station_built.json"))
        [k100] = kuaidi100.parse(json.loads(kuaidi100_push()["param"]))
        assert seventeen.carrier == "17track-0"
        assert [e.dedup_key() for e in seventeen.events] == [e.dedup_key() for e in k100.events]

    def test_sub_statuses_and_signature(self) -> None:
        assert seventeentrack.map_status("Exception", "Exception_Returning")[0] == "returned_to_sender"
        assert seventeentrack.map_status("DeliveryFailure", "DeliveryFailure_Rejected")[:2] == ("exception", "refused")
        assert seventeentrack.map_status("AvailableForPickup", "AvailableForPickup_Other")[0] == "available_for_pickup"
        with pytest.raises(PayloadError, match="unknown 17TRACK status"):
            seventeentrack.map_status("Teleported", None)
        # The concatenation example of 17TRACK's docs, as aio17track quotes it.
        raw = b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN","carrier":3011,"tag":null}}'
        assert seventeentrack.sign(raw, "123456ABCDEF") == hashlib.sha256(raw + b"/123456ABCDEF").hexdigest()
        assert seventeentrack.verify("123456ABCDEF", {"sign": seventeentrack.sign(raw, "123456ABCDEF")}, raw)
        assert not seventeentrack.verify("123456ABCDEF", {}, raw)


class TestCarrierTable:
    def test_one_code_per_provider_maps_to_ours(self) -> None:
        assert carriers.from_kuaidi100("shunfeng") == carriers.from_kdniao("SF") == "sf-express"
        assert carriers.from_kuaidi100("zhongtong") == carriers.from_kdniao("ZTO") == "zto"
        assert carriers.from_kuaidi100("youzhengguonei") == carriers.from_17track(3011) == "china-post"
        assert carriers.from_kuaidi100("ems") == carriers.from_kdniao("EMS") == carriers.from_17track(3013) == "ems"
        assert carriers.from_kuaidi100("jd") == carriers.from_kdniao("JD") == "jd"
        # Unknown codes are kept, never guessed.
        assert carriers.from_kuaidi100("xinfeng") == "kuaidi100-xinfeng"
        assert carriers.from_17track(999999) == "17track-999999"


class TestScanText:
    @pytest.mark.parametrize(("text", "status", "note"), [
        ("您的快件已由快递驿站代收，感谢您使用京东物流", "available_for_pickup", ("pickup_point", "快递驿站")),
        ("【苏州市】 快件已被【丰巢的索特传动设备西门丰巢柜2号柜(丰巢智能快递柜)】代收，如有问题请电联", "available_for_pickup",
         ("pickup_point", "丰巢的索特传动设备西门丰巢柜2号柜(丰巢智能快递柜)")),
        ("快件已由济南历城区翡翠雅郡北区西门店代收，请及时取件", "available_for_pickup",
         ("pickup_point", "济南历城区翡翠雅郡北区西门店")),
        ("您的快递已签收, 签收人在【丰巢的索特传动设备西门丰巢柜2号柜(丰巢智能快递柜)】领取。", "delivered",
         ("delivered_to", "丰巢的索特传动设备西门丰巢柜2号柜(丰巢智能快递柜)")),
        ("已签收,签收人是门卫签收", "delivered", ("delivered_to", "门卫")),
        ("收件人拒收", "exception", None),
        ("收件人拒收，快件退回", "returned_to_sender", None),
        ("快件已退回寄件人", "returned_to_sender", None),
        ("快件已到达山东潍坊诸城公司", None, None),
    ])
    def test_readings(self, text: str, status: str | None, note: tuple[str, str] | None) -> None:
        reading = read_scan(text)
        assert reading.status == status
        if note:
            assert getattr(reading, note[0]) == note[1]
