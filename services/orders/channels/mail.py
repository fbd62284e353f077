"""Outbound e-mail: a rendered message (plain text + HTML) and an SMTP transport (STARTTLS) from SMTP_URL."""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# Our own mail carries this header: a message that comes back in with it is a loop, never a new ticket.
LOOP_HEADER = "X-Order-Support-Ticket"
MSGID_DOMAIN = "order-support.mail"


class MailConfigError(ValueError):
    pass


class MailSendError(Exception):
    """The relay did not take the message (down, refused, timed out): the outbox retries later."""


def new_message_id() -> str:
    return make_msgid(domain=MSGID_DOMAIN)


def html_of(text: str) -> str:
    """The HTML part: the same words, escaped, paragraph by paragraph."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>'


def build_message(payload: dict[str, Any], *, mail_from: str) -> EmailMessage:
    """The MIME message of an outbox e-mail payload: multipart/alternative, text first, then HTML."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = payload["to"]
    msg["Subject"] = payload["subject"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = payload["message_id"]
    if payload.get("in_reply_to"):
        msg["In-Reply-To"] = payload["in_reply_to"]
    if payload.get("references"):
        msg["References"] = " ".join(payload["references"])
    if payload.get("auto_submitted"):
        # RFC 3834: an automatic answer, so that other robots do not answer it (no mail loops).
        msg["Auto-Submitted"] = "auto-replied"
    if payload.get("ticket_id"):
        msg[LOOP_HEADER] = payload["ticket_id"]
    msg["Content-Language"] = payload.get("lang", "en")
    msg.set_content(payload["text"])
    msg.add_alternative(payload.get("html") or html_of(payload["text"]), subtype="html")
    return msg


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool  # smtps://
    starttls: str  # "auto" (when offered; required when a password is sent off this host), "required", "off"
    timeout: float = 30.0


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://user:pass@host:587` (STARTTLS), `smtps://…:465` (TLS from the start); `?starttls=required|off`."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailConfigError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
    query = parse_qs(parts.query)
    starttls = (query.get("starttls") or ["auto"])[0].lower()
    if starttls not in ("auto", "required", "off"):
        raise MailConfigError("SMTP_URL starttls= must be auto, required or off")
    implicit = parts.scheme == "smtps"
    return SmtpConfig(host=parts.hostname, port=parts.port or (465 if implicit else 587),
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      implicit_tls=implicit, starttls=starttls)


class SmtpTransport:
    """Sends one message per connection (a relay that hangs up between sends costs nothing)."""

    def __init__(self, config: SmtpConfig, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.tls_context = tls_context or ssl.create_default_context()

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        c = self.config
        try:
            smtp: smtplib.SMTP
            if c.implicit_tls:
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self.tls_context)
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                smtp.ehlo()
                if not c.implicit_tls and c.starttls != "off":
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=self.tls_context)
                        smtp.ehlo()
                    elif c.starttls == "required" or (c.password and c.host not in ("127.0.0.1", "localhost", "::1")):
                        raise MailSendError(f"{c.host}:{c.port} does not offer STARTTLS; refusing to send the "
                                            "password in clear")
                if c.username and c.password:
                    smtp.login(c.username, c.password)
                refused = smtp.send_message(message)
                if refused:
                    raise MailSendError(f"recipients refused: {sorted(refused)}")
        except MailSendError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise MailSendError(f"{type(exc).__name__}: {exc}") from exc
