"""Webhook fuzzer: each sender's real example, one value replaced at a time by an odd one (wrong type, huge
integer, NUL, lone surrogate, 300 characters, NaN, a date in 2099 …), signed as that sender signs, posted on
SQLite and PostgreSQL. Any answer but a server error is fine; a 500 is a bug."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.orders.tracking import kdniao, kuaidi100, seventeentrack
from services.orders.tracking.signatures import sign_aftership, sign_easypost, sign_generic
from tests.conftest import WEBHOOK_SECRET
from tests.fixtures import aftership, easypost, load

SALT, APP_KEY, KEY_17 = "fuzz-salt", "fuzz-app-key", "fuzz-17track-key"
# Kept small for `make test`; WEBHOOK_FUZZ_EXAMPLES=1000 for a longer run.
EXAMPLES_PER_SENDER = int(os.environ.get("WEBHOOK_FUZZ_EXAMPLES", "40"))

GENERIC_EXAMPLE = {  # the contract's example batch
    "carrier": "sf-express", "tracking_number": "SF1234567890",
    "events": [{"event_id": "e-1", "status": "in_transit", "substatus": None,
                "occurred_at": "2026-11-02T08:00:00+08:00", "description": "Departed sorting center",
                "location": {"city": "Shanghai", "postal_code": "200000", "country": "CN", "lat": 31.23,
                             "lon": 121.47, "address": None}}]}


def _json(payload: Any) -> bytes:
    # ASCII JSON: a lone surrogate travels as the escape \\ud800, as a careless sender would write it.
    return json.dumps(payload).encode()


def _header_signed(header: str, sign: Callable[[str, bytes], str]) -> Callable[[Any], tuple[bytes, dict[str, str]]]:
    def build(payload: Any) -> tuple[bytes, dict[str, str]]:
        body = _json(payload)
        return body, {header: sign(WEBHOOK_SECRET, body), "content-type": "application/json"}
    return build


def _kuaidi100(payload: Any) -> tuple[bytes, dict[str, str]]:
    param = _json(payload).decode()
    body = urlencode({"param": param, "sign": kuaidi100.sign(param, SALT)}).encode()
    return body, {"content-type": "application/x-www-form-urlencoded"}


def _kdniao(payload: Any) -> tuple[bytes, dict[str, str]]:
    request_data = _json(payload).decode()
    body = urlencode({"RequestData": request_data, "DataSign": kdniao.data_sign(request_data, APP_KEY),
                      "RequestType": "101"}).encode()
    return body, {"content-type": "application/x-www-form-urlencoded"}


def _seventeen(payload: Any) -> tuple[bytes, dict[str, str]]:
    body = _json(payload)
    return body, {"sign": seventeentrack.sign(body, KEY_17), "content-type": "application/json"}


SENDERS: dict[str, tuple[Callable[[], Any], Callable[[Any], tuple[bytes, dict[str, str]]]]] = {
    "aftership": (aftership, _header_signed("aftership-hmac-sha256", sign_aftership)),
    "easypost": (easypost, _header_signed("X-Hmac-Signature", sign_easypost)),
    "generic": (lambda: copy.deepcopy(GENERIC_EXAMPLE), _header_signed("X-Signature", sign_generic)),
    "kuaidi100": (lambda: json.loads(load("carriers", "kuaidi100_push_jd_station_go-tron.json")["param"]),
                  _kuaidi100),
    "kdniao": (lambda: load("carriers", "kdniao_push_htky_station_built_from_jiejushancheng.json"), _kdniao),
    "17track": (lambda: load("carriers", "17track_v2_tracking_updated_webhook_example.json"), _seventeen),
}


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the payload a value sits, containers included."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*path, index))


def replaced(payload: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    result = copy.deepcopy(payload)
    target = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return result


ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 10**30, 2**63, -(2**63) - 1, 1.5, 1e308, float("nan"), float("inf")]),
    st.text(max_size=12),
    st.sampled_from(["", " ", "x", "a\x00b", "\ud800", "9" * 300, "2099-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00",
                     "2026-13-45 99:99:99", "Teleported", "InTransit_999", "在途", "3", "304", "丰巢", "拒收"]),
    st.just([]), st.just({}), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.none(),
                                                                                     max_size=2))


@pytest.fixture
def provider_secrets(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_ = app.state.settings
    monkeypatch.setattr(settings_, "kuaidi100_salt", SALT)
    monkeypatch.setattr(settings_, "kdniao_app_key", APP_KEY)
    monkeypatch.setattr(settings_, "seventeentrack_key", KEY_17)


@pytest.mark.parametrize("fmt", list(SENDERS))
@settings(max_examples=EXAMPLES_PER_SENDER, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_one_odd_value_never_a_server_error(client: httpx.AsyncClient, provider_secrets: None, fmt: str,
                                                  data: st.DataObject) -> None:
    example, sign = SENDERS[fmt]
    payload = example()
    where = data.draw(st.sampled_from(list(paths(payload))), label="path")
    odd = data.draw(ODD_VALUES, label="value")
    body, headers = sign(replaced(payload, where, odd))
    resp = await client.post(f"/v1/webhooks/carriers/{fmt}", content=body, headers=headers)
    assert resp.status_code < 500, (fmt, where, odd, resp.text)
    if resp.status_code >= 400:
        assert resp.headers["content-type"] == "application/problem+json", resp.text
