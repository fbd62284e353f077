# ruff: noqa: E501  (patterns with Chinese words count double width)
"""Reading an inbound e-mail (pure: bytes in, facts out): addresses, bodies, attachments, robots, references.

Parsed with the standard library's `email` package (policy.default). HTML-only mail is reduced to text. What the
text names (order numbers, tracking numbers, tx hashes, in Chinese or English sentences) is found by shape here
and checked against the database by the service."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from services.orders.channels.mail import LOOP_HEADER

MAX_TEXT = 5000
MAX_HOPS = 30  # more Received headers than any real path has: the message is circling


@dataclass
class MailAttachment:
    filename: str | None
    declared_type: str
    data: bytes


@dataclass
class ParsedMail:
    message_id: str
    from_address: str | None
    from_name: str
    subject: str
    text: str
    html: str | None
    in_reply_to: list[str]
    references: list[str]
    attachments: list[MailAttachment] = field(default_factory=list)
    automatic: str | None = None  # why no ticket: bounce, auto_submitted, precedence, auto_reply, list, loop

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, most recent first."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


class _TextOfHtml(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "section"}
    SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def automatic_reason(msg: Message, *, from_address: str | None, own_addresses: set[str]) -> str | None:
    """Why this message must not open a ticket (RFC 3834 robots, RFC 3464 bounces, our own mail coming back)."""
    ctype = msg.get_content_type()
    local = (from_address or "").split("@")[0].lower()
    return_path = str(msg.get("Return-Path", "")).strip()
    if ctype == "multipart/report" or local in ("mailer-daemon", "postmaster") or return_path == "<>":
        return "bounce"
    if msg.get(LOOP_HEADER) or (from_address or "").lower() in own_addresses or \
            len(msg.get_all("Received") or []) > MAX_HOPS or msg.get("X-Loop"):
        return "loop"
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return "auto_submitted"
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "precedence"
    if any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")) and \
            str(msg.get("X-Auto-Response-Suppress", "")).lower() not in ("", "none"):
        return "auto_reply"
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return "auto_reply"
    if msg.get("List-Id") or msg.get("List-Unsubscribe"):
        return "list"
    return None


def parse_message(raw: bytes, *, own_addresses: set[str] | None = None) -> ParsedMail:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    name, address = parseaddr(str(msg.get("From", "")))
    if not address:
        addresses = getaddresses([str(msg.get("From", ""))])
        address = addresses[0][1] if addresses else ""
    message_id = (_ids(str(msg.get("Message-ID", ""))) or
                  [f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.inbound>"])[0]
    plain = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    html = _content(html_part)
    text = _content(plain) or (html_to_text(html) if html else "")
    attachments = [] if msg.get_content_type() == "multipart/report" else _attachments(msg)
    return ParsedMail(
        message_id=message_id, from_address=address.lower() or None, from_name=name,
        subject=str(msg.get("Subject", "") or "").strip(), text=_strip_quoted(text)[:MAX_TEXT], html=html,
        in_reply_to=_ids(str(msg.get("In-Reply-To", ""))), references=_ids(str(msg.get("References", ""))),
        attachments=attachments,
        automatic=automatic_reason(msg, from_address=address.lower() or None, own_addresses=own_addresses or set()))


def _content(part: Message | None) -> str | None:
    if part is None:
        return None
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError):  # an unknown charset: keep what can be read
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    return content if isinstance(content, str) else None


def _attachments(msg: EmailMessage) -> list[MailAttachment]:
    found: list[MailAttachment] = []
    for part in msg.iter_attachments():
        content = part.get_content()
        if isinstance(content, str):
            data = content.encode("utf-8")
        elif isinstance(content, bytes):
            data = content
        else:  # message/rfc822: keep the attached message as it was sent
            data = content.as_bytes(policy=policy.SMTP) if hasattr(content, "as_bytes") else str(content).encode()
        found.append(MailAttachment(filename=part.get_filename(), declared_type=part.get_content_type(), data=data))
    return found


_QUOTE_MARKERS = re.compile(r"^(On .{3,200} wrote:|在 .{3,200} 写道：|-----Original Message-----|-----原始邮件-----)\s*$",
                            re.MULTILINE)


def _strip_quoted(text: str) -> str:
    """The new part of a reply: stop at the quote header and drop `>` lines (the rest is already on the ticket)."""
    match = _QUOTE_MARKERS.search(text)
    if match and match.start() > 0:
        text = text[: match.start()]
    kept = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


# What the text names -------------------------------------------------------------------------------------

TICKET_REF = re.compile(r"tkt_[0-9a-f]{32}")
_EVM_TX = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_HEX64 = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_BASE58_SIG = re.compile(r"(?<![1-9A-HJ-NP-Za-km-z])[1-9A-HJ-NP-Za-km-z]{86,88}(?![1-9A-HJ-NP-Za-km-z])")
# Order numbers as this shop writes them (TP20261124-0001, TP-0A1B2C3D4E5F) and after a keyword in either language.
_ORDER_SHAPE = re.compile(r"(?<![A-Za-z0-9])(TP-?[0-9A-Z]{8,}(?:-[0-9A-Z]{2,})*)(?![A-Za-z0-9])", re.IGNORECASE)
_ORDER_KEYWORD = re.compile(r"(?:订单号?|订单编号|order\s*(?:number|no\.?|#|id)?)\s*[:：#]?\s*([A-Za-z0-9][A-Za-z0-9-]{5,40})",
                            re.IGNORECASE)
_TRACKING_SHAPES = [
    re.compile(r"(?<![A-Za-z0-9])(SF\d{12,15})(?![A-Za-z0-9])", re.IGNORECASE),      # SF Express
    re.compile(r"(?<![A-Za-z0-9])(JD[0-9A-Z]{11,18})(?![A-Za-z0-9])", re.IGNORECASE),  # JD Logistics
    re.compile(r"(?<![A-Za-z0-9])(YT\d{13,16})(?![A-Za-z0-9])", re.IGNORECASE),      # YTO
    re.compile(r"(?<![A-Za-z0-9])(1Z[0-9A-Z]{16})(?![A-Za-z0-9])", re.IGNORECASE),   # UPS
    re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{9}[A-Z]{2})(?![A-Za-z0-9])"),           # UPU S10 (postal)
]
_TRACKING_KEYWORD = re.compile(r"(?:运单号?|快递单号|物流单号|tracking\s*(?:number|no\.?|#)?)\s*[:：#]?\s*([A-Za-z0-9]{8,40})",
                               re.IGNORECASE)
_CHAIN_HINTS = [
    ("bsc", re.compile(r"BSC|BEP-?20|币安|binance\s*smart\s*chain|BNB\s*chain", re.IGNORECASE)),
    ("polygon", re.compile(r"polygon|matic", re.IGNORECASE)),
    ("tron", re.compile(r"TRC-?20|TRON|波场|TRX", re.IGNORECASE)),
    ("eth", re.compile(r"ERC-?20|以太坊|ethereum|\bETH\b", re.IGNORECASE)),
    ("btc", re.compile(r"bitcoin|比特币|\bBTC\b", re.IGNORECASE)),
]


@dataclass
class TxRef:
    tx_hash: str
    family: str  # evm, tron_or_btc, solana
    chain: str | None  # the chain the words around it name, when they do


@dataclass
class Mentions:
    order_numbers: list[str]
    tracking_numbers: list[str]
    txs: list[TxRef]
    ticket_ids: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"order_numbers": self.order_numbers, "tracking_numbers": self.tracking_numbers,
                "txs": [{"tx_hash": t.tx_hash, "family": t.family, "chain": t.chain} for t in self.txs]}


def chain_hint(text: str) -> str | None:
    for chain, pattern in _CHAIN_HINTS:
        if pattern.search(text):
            return chain
    return None


def find_mentions(text: str) -> Mentions:
    """Order numbers, tracking numbers, tx hashes and ticket references named in a subject and body."""
    hint = chain_hint(text)
    txs: list[TxRef] = []
    for h in _EVM_TX.findall(text):
        txs.append(TxRef(h.lower(), "evm", hint if hint in ("eth", "bsc", "polygon") else None))
    for h in _HEX64.findall(text):
        txs.append(TxRef(h.lower(), "tron_or_btc", hint if hint in ("tron", "btc") else None))
    for h in _BASE58_SIG.findall(text):
        txs.append(TxRef(h, "solana", "solana"))
    hashes = {t.tx_hash.lower().removeprefix("0x") for t in txs}
    orders = [m.upper() for m in _ORDER_SHAPE.findall(text)] + [m.upper() for m in _ORDER_KEYWORD.findall(text)]
    tracking = [m.upper() for p in _TRACKING_SHAPES for m in p.findall(text)]
    tracking += [m.upper() for m in _TRACKING_KEYWORD.findall(text)]
    orders = [o for o in dict.fromkeys(orders) if o.lower() not in hashes and o not in tracking]
    tracking = [t for t in dict.fromkeys(tracking) if t.lower() not in hashes and t not in orders]
    return Mentions(order_numbers=orders, tracking_numbers=tracking, txs=txs,
                    ticket_ids=list(dict.fromkeys(TICKET_REF.findall(text))))


_TYPE_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("account_change", re.compile(r"改地址|修改地址|更改地址|换手机|修改手机|更换邮箱|修改邮箱|change (my )?(address|e-?mail|phone)|"
                                  r"update (my )?(address|e-?mail|phone)|new (address|phone number)", re.IGNORECASE)),
    ("payment_failed", re.compile(r"付款|支付|转账|扣款|未到账|USDT|paid|payment|transfer|charged", re.IGNORECASE)),
    ("not_received", re.compile(r"没收到|未收到|没有收到|丢件|包裹|not (been )?received|never (arrived|received)|"
                                r"missing (parcel|package)|where is my (parcel|package|order)", re.IGNORECASE)),
    ("wrong_item", re.compile(r"发错|错发|不是我买的|wrong item|wrong product", re.IGNORECASE)),
    ("return_request", re.compile(r"退货|退款|退换|return|refund", re.IGNORECASE)),
    ("tech_support", re.compile(r"无法连接|连不上|固件|蓝牙|死机|闪退|坏了|故障|firmware|bluetooth|won'?t (turn on|connect)|"
                                r"crash|not working|broken", re.IGNORECASE)),
]


def guess_ticket_type(text: str, mentions: Mentions) -> str:
    if mentions.txs:
        return "payment_failed"
    for ticket_type, pattern in _TYPE_WORDS:
        if pattern.search(text):
            return ticket_type
    return "order_status"


def guess_lang(text: str) -> str:
    return "zh-CN" if re.search(r"[\u4e00-\u9fff]", text) else "en"
