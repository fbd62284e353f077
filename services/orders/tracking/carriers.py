"""One table from each provider's carrier code to ours: Kuaidi100's `com`, Kdniao's `ShipperCode`, 17TRACK's
carrier numbers. A code not in the table is kept, prefixed with its provider, so nothing is guessed; ingest
still finds the shipment by its tracking number alone when only one shipment has it."""

from __future__ import annotations

from services.orders.tracking.normalized import carrier_slug

# ours: (Kuaidi100 com codes, Kdniao ShipperCodes, 17TRACK carrier numbers)
CARRIERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]] = {
    "sf-express": (("shunfeng", "shunfengkuaiyun"), ("SF",), ()),
    "yto": (("yuantong",), ("YTO",), ()),
    "zto": (("zhongtong",), ("ZTO",), ()),
    "sto": (("shentong",), ("STO",), ()),
    "yunda": (("yunda",), ("YD",), ()),
    "jd": (("jd", "jingdong"), ("JD",), ()),
    "ems": (("ems",), ("EMS",), (3013,)),
    "china-post": (("youzhengguonei", "youzhengbk", "youzhengguoji"), ("YZPY", "YZBK"), (3011,)),
    "best-express": (("huitongkuaidi", "baishiwuliu"), ("HTKY",), ()),
    "deppon": (("debangwuliu", "debangkuaidi"), ("DBL",), ()),
    "jtexpress": (("jtexpress",), ("JTSD",), ()),
    "tiantian": (("tiantian",), ("HHTT",), ()),
    "yanwen": (("yanwen",), ("YW",), (190012,)),
    "ups": (("ups",), ("UPS",), (100002,)),
    "correios": ((), (), (2151,)),
}

_KUAIDI100 = {code: ours for ours, (codes, _, _) in CARRIERS.items() for code in codes}
_KDNIAO = {code: ours for ours, (_, codes, _) in CARRIERS.items() for code in codes}
_SEVENTEENTRACK = {code: ours for ours, (_, _, codes) in CARRIERS.items() for code in codes}


def from_kuaidi100(com: str) -> str:
    return _KUAIDI100.get(com.strip().lower()) or f"kuaidi100-{carrier_slug(com)}"


def from_kdniao(shipper_code: str) -> str:
    return _KDNIAO.get(shipper_code.strip().upper()) or f"kdniao-{carrier_slug(shipper_code)}"


def from_17track(carrier: int) -> str:
    """17TRACK's number; 0 is its "not identified yet"."""
    return _SEVENTEENTRACK.get(carrier) or f"17track-{carrier}"
