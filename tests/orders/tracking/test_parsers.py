"""Each sender's parser on its real payload, beside the expected normalized result."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.orders.tracking import aftership, easypost
from services.orders.tracking.normalized import STATUSES, NormalizedEvent, PayloadError, ShipmentState, fold
from tests.fixtures import aftership as aftership_payload
from tests.fixtures import easypost as easypost_payload


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestAfterShip:
    def test_real_webhook(self) -> None:
        [batch] = aftership.parse(aftership_payload())
        assert batch.carrier == "usps"
        assert batch.tracking_number == "9405516902697649303570"
        assert len(batch.events) == 7
        first = batch.events[0]
        assert (first.status, first.substatus) == ("info_received", "label_created")
        assert first.raw_status == "InfoReceived_001"
        # checkpoint_time is local time at BOCA RATON, FL (EDT, UTC-4 in May)
        assert first.occurred_at == utc(2021, 5, 13, 17, 4)
        assert first.raw is not None and first.raw["checkpoint_time"] == "2021-05-13T13:04:00"
        assert first.raw["time_zone"] == "America/New_York"
        assert first.location == {"address": "BOCA RATON, FL, 33487, USA, United States", "city": "BOCA RATON",
                                  "region": "FL", "postal_code": "33487", "country": "US"}
        # The facility name carries the state when the state field is empty.
        assert batch.events[2].raw is not None and batch.events[2].raw["time_zone"] == "America/New_York"
        assert [e.substatus for e in batch.events[1:4]] == ["acceptance_scan", "arrival_scan", "departure_scan"]
        assert all(e.status == "in_transit" for e in batch.events[1:])

    def test_every_subtag_maps_to_a_normalized_status(self) -> None:
        for subtag, (status, _) in aftership.SUBTAGS.items():
            assert status in STATUSES, subtag
            assert subtag.split("_")[0] in aftership.TAGS
        assert aftership.map_status("Exception", "Exception_011") == ("returned_to_sender", "returned_to_sender")
        assert aftership.map_status("AttemptFail", "AttemptFail_999") == ("failed_attempt", None)

    def test_unknown_tag_and_missing_fields(self) -> None:
        with pytest.raises(PayloadError, match="unknown AfterShip tag"):
            aftership.map_status("Teleported", None)
        payload = aftership_payload()
        del payload["msg"]["slug"]
        payload["msg"]["checkpoints"][3]["checkpoint_time"] = None
        with pytest.raises(PayloadError) as info:
            aftership.parse(payload)
        assert info.value.problems == ["msg.slug is missing"]
        payload = aftership_payload()
        payload["msg"]["checkpoints"][3].pop("checkpoint_time")
        with pytest.raises(PayloadError, match=r"msg.checkpoints\[3\].checkpoint_time is missing"):
            aftership.parse(payload)
        with pytest.raises(PayloadError, match="msg"):
            aftership.parse({"event": "tracking_update"})


class TestEasyPost:
    def test_real_webhook(self) -> None:
        [batch] = easypost.parse(easypost_payload())
        assert (batch.carrier, batch.tracking_number) == ("ups", "EZ4000000004")
        assert [e.status for e in batch.events] == ["info_received", "in_transit", "in_transit", "in_transit",
                                                    "out_for_delivery", "delivered"]
        delivered = batch.events[-1]
        assert delivered.occurred_at == utc(2014, 11, 19, 10, 51, 54)
        assert delivered.location == {"city": "SAN FRANCISCO", "region": "CA", "country": "US"}
        assert delivered.raw_status == "delivered"

    def test_status_details(self) -> None:
        assert easypost.map_status("in_transit", "arrived_at_pickup_location") == "available_for_pickup"
        assert easypost.map_status("failure", "lost") == "exception"
        assert easypost.map_status("return_to_sender", None) == "returned_to_sender"
        assert easypost.map_status("in_transit", "some_new_detail") == "in_transit"
        for status in easypost.STATUSES.values():
            assert status in STATUSES
        with pytest.raises(PayloadError, match="unknown EasyPost status"):
            easypost.map_status("vanished", None)

    def test_other_shapes_are_refused(self) -> None:
        with pytest.raises(PayloadError, match="description"):
            easypost.parse({**easypost_payload(), "description": "batch.updated"})
        payload = easypost_payload()
        payload["result"]["tracking_details"][0]["datetime"] = "yesterday"
        with pytest.raises(PayloadError, match="not a date-time"):
            easypost.parse(payload)


class TestShipmentState:
    def test_delivery_is_not_undone_and_order_does_not_matter(self) -> None:
        events = [NormalizedEvent("in_transit", utc(2026, 11, 2)), NormalizedEvent("delivered", utc(2026, 11, 4)),
                  NormalizedEvent("out_for_delivery", utc(2026, 11, 3)), NormalizedEvent("exception", utc(2026, 11, 5))]
        forward = fold(ShipmentState(), events)
        backward = fold(ShipmentState(), list(reversed(events)))
        assert forward == backward == ShipmentState("delivered", utc(2026, 11, 5), utc(2026, 11, 4))

    def test_latest_by_time_not_arrival(self) -> None:
        state = fold(ShipmentState(), [NormalizedEvent("out_for_delivery", utc(2026, 11, 3)),
                                       NormalizedEvent("in_transit", utc(2026, 11, 2))])
        assert state.status == "out_for_delivery"

    def test_duplicates_change_nothing(self) -> None:
        event = NormalizedEvent("in_transit", utc(2026, 11, 2))
        once = fold(ShipmentState(), [event])
        assert fold(once, [event, event]) == once
