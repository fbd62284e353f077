"""What a Chinese scan text says that the provider's status code does not: the parcel waits in a pickup
station (驿站) or a locker (快递柜, 丰巢), someone else signed for it (代收), it was refused (拒收) or is going
back (退回). Pure text in, a reading out; each provider's parser applies it on top of its own codes."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that name a place where the customer collects the parcel themselves.
LOCKER_WORDS = ("快递柜", "丰巢", "智能柜", "自提柜", "云柜", "格格柜", "入柜", "投柜")
STATION_WORDS = ("驿站", "代收点", "自提点", "提货点", "取件点", "快递超市", "邻里", "便民点", "服务站", "合作点",
                 "妈妈驿站", "兔喜", "收货宝")
PICKUP_WORDS = LOCKER_WORDS + STATION_WORDS
# People who sign instead of the customer.
PROXY_WORDS = ("门卫", "前台", "物业", "保安", "邻居", "家人", "同事", "传达室", "收发室", "家属", "公司前台")

_COLLECT = ("请及时取件", "请及时领取", "取件码", "凭取件码", "请凭", "请前往", "请到", "领取您的", "待取件",
            "及时取件", "及时领取", "请尽快取件")
_PICKED_UP = ("已取件", "取件成功", "已取出", "已领取", "已提货", "客户已取件", "已被取出")
_SIGNED = ("已签收", "签收人", "妥投", "已妥投")
_REFUSED = ("拒收", "拒签")
_RETURNED = ("退回", "退件", "退签", "返回寄件", "退还寄件", "原单返回", "返寄")
_OUT_FOR_DELIVERY = ("正在派送", "派送中", "派件中", "正在派件", "开始派送", "安排投递", "正在投递")

_BRACKETS = re.compile(r"[【\[]([^】\]]{1,60})[】\]]([^，,。；;：:！!（(【\[]{0,30})")
_HELD_BY = re.compile(r"(?:已由|已被|已放入|放入|投递至|投递到|送达|已存入|存入|已到达|到达)\s*"
                      r"[【\[]?([^，,。；;！!】\]]{2,40}?)[】\]]?\s*(?:代收|代为保管|暂存|保管|，|,|。|$)")
_DIRECTIONS = re.compile(r"请(?:前往|到|至)([^，,。；;！!]{2,40}?)(?:领取|取件|取货|提货|自取)")
_SIGNER = re.compile(r"签收人(?:是|为|：|:)?\s*[:：]?\s*([^，,。；;！!\s]{1,12})")


@dataclass(frozen=True)
class ScanReading:
    status: str | None = None  # the normalized status the text implies, or None when it adds nothing
    substatus: str | None = None
    pickup_point: str | None = None  # the station or locker holding the parcel
    pickup_directions: str | None = None
    delivered_to: str | None = None  # who or what signed instead of the customer


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def pickup_point(text: str) -> str | None:
    """The station or locker a scan names: a bracketed name holding a pickup word, else "held by X"."""
    for name, tail in _BRACKETS.findall(text):
        if _has(name, PICKUP_WORDS):
            extra = tail.strip()
            for verb in ("代收", "领取", "签收", "取件", "派件", "已", "请"):
                extra = extra.split(verb)[0]
            return f"{name.strip()} {extra.strip()}".strip()
    for match in _HELD_BY.finditer(text):
        place = match.group(1).strip()
        if _has(place, PICKUP_WORDS):
            return place
    for word in PICKUP_WORDS:
        if word in text:
            return word
    return None


def _held_by_person(text: str) -> str | None:
    for word in PROXY_WORDS:
        if word in text and ("代收" in text or "签收" in text or "代签" in text):
            return word
    return None


def read_scan(text: str | None) -> ScanReading:
    if not text:
        return ScanReading()
    point = pickup_point(text)
    directions_match = _DIRECTIONS.search(text)
    directions = directions_match.group(1).strip() if directions_match else None
    locker = point is not None and _has(point + text, LOCKER_WORDS)
    waiting = "parcel_locker" if locker else "pickup_station"
    if _has(text, _REFUSED):
        if _has(text, _RETURNED):
            return ScanReading("returned_to_sender", "refused_returning")
        return ScanReading("exception", "refused")
    if _has(text, _PICKED_UP):
        return ScanReading("delivered", "picked_up_by_customer", pickup_point=point, delivered_to=point)
    if _has(text, _RETURNED) and not (point and _has(text, _COLLECT)):
        return ScanReading("returned_to_sender", "returning_to_sender")
    if _has(text, _SIGNED):
        person = _held_by_person(text)
        if person:
            return ScanReading("delivered", "delivered_to_neighbor", delivered_to=person)
        if point and not _has(text, ("本人签收", "本人")):
            # "签收人在【丰巢…】领取": the customer collected it from the locker.
            if "领取" in text or "取件" in text:
                return ScanReading("delivered", "picked_up_by_customer", pickup_point=point, delivered_to=point)
            return ScanReading("delivered", "delivered_to_pickup_point", pickup_point=point, delivered_to=point)
        signer = _SIGNER.search(text)
        who = signer.group(1) if signer else None
        if who and who not in ("本人", "已签收", "签收"):
            return ScanReading("delivered", "signed_by_other", delivered_to=who)
        return ScanReading("delivered", None)
    if point or ("代收" in text and _has(text, _COLLECT)):
        if point is None:
            held = _HELD_BY.search(text)
            point = held.group(1).strip() if held else None
        person = _held_by_person(text)
        if person and not point:
            return ScanReading("delivered", "delivered_to_neighbor", delivered_to=person)
        if point or _has(text, _COLLECT):
            return ScanReading("available_for_pickup", waiting, pickup_point=point, pickup_directions=directions)
    if "代收" in text or "代签" in text:
        person = _held_by_person(text)
        if person:
            return ScanReading("delivered", "delivered_to_neighbor", delivered_to=person)
    if _has(text, _OUT_FOR_DELIVERY):
        return ScanReading("out_for_delivery", None)
    return ScanReading()


# Statuses a provider's own code gives that the text may refine; a specific code is kept (the text may
# only add the station's name to it).
_GENERIC = {"pending", "info_received", "in_transit", "delivered", "out_for_delivery", "available_for_pickup"}


def refine(status: str, substatus: str | None, text: str | None) -> tuple[str, str | None, ScanReading]:
    """The provider's status, refined by what its scan text says."""
    reading = read_scan(text)
    if reading.status is None:
        return status, substatus, reading
    if reading.status == "out_for_delivery" and status not in ("pending", "info_received", "in_transit"):
        return status, substatus, reading
    if status not in _GENERIC and reading.status not in ("exception", "returned_to_sender"):
        return status, substatus, reading
    return reading.status, reading.substatus or substatus, reading


def location_notes(reading: ScanReading) -> dict[str, str]:
    notes = {"pickup_point": reading.pickup_point, "pickup_directions": reading.pickup_directions,
             "delivered_to": reading.delivered_to}
    return {k: v for k, v in notes.items() if v}
