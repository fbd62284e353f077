"""The console's pages: parse the request, one console-service call, render. HTML only; the JSON API stays /v1."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from services.common.db import SessionDep
from services.common.errors import InvalidInput, ProblemError
from services.common.i18n import pick_language
from services.common.schemas import format_decimal
from services.orders import schemas
from services.orders.console import service as console
from services.orders.console import session as cookies
from services.orders.console.catalog import LANGUAGES, Texts
from services.orders.console.session import ConsoleSession
from services.orders.console.shapes import ALL_CHAINS, classify

HERE = Path(__file__).resolve().parent
router = APIRouter(prefix="/console", include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

TICKET_STATUSES: tuple[str, ...] = get_args(schemas.TicketStatus)
TICKET_TYPES: tuple[str, ...] = get_args(schemas.TicketType)
CHANNELS: tuple[str, ...] = get_args(schemas.Channel)
RETURN_REASONS: tuple[str, ...] = get_args(schemas.ReturnReason)
CONDITIONS: tuple[str, ...] = get_args(schemas.ReturnCondition)
NOTES = {"sent": "ticket.sent", "moved": "ticket.moved", "return": "order.return_created", "out": "sign_in.signed_out",
         "expired": "sign_in.expired"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def _when(value: datetime | str | None, zone: str | None = None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M")
    local = value.astimezone(ZoneInfo(zone)) if zone else value
    return local.strftime("%Y-%m-%d %H:%M") + ("" if zone else " UTC")


def _compact(value: Any) -> str:
    """Evidence values as a person reads them: nested facts as short JSON, the rest as text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return "—" if value is None else str(value)


templates.filters["when"] = _when
templates.filters["compact"] = _compact
templates.filters["money"] = lambda value: "—" if value is None else format_decimal(Decimal(str(value)))
templates.filters["enumof"] = lambda value, t, group: t.enum(group, value)


def language(request: Request) -> str:
    chosen = request.cookies.get(cookies.LANG_COOKIE)
    return chosen if chosen in LANGUAGES else pick_language(request.headers.get("accept-language"))


def render(request: Request, template: str, *, session: ConsoleSession | None, status: int = 200,
           csrf: str | None = None, **context: Any) -> HTMLResponse:
    lang = language(request)
    note_key = NOTES.get(request.query_params.get("note", ""))
    token = csrf if csrf is not None else cookies.csrf_token(request, session)
    html = templates.get_template(template).render(
        t=Texts(lang), lang=lang, session=session, csrf=token, here=_here(request),
        note=Texts(lang)(note_key) if note_key else None, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _safe_next(target: str | None) -> str:
    """Only our own pages: never another site (//evil.example) after a sign-in or a language switch."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/queue"


def see_other(request: Request, url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def form_of(request: Request) -> dict[str, str]:
    """URL-encoded forms only (what a browser and htmx send); the first value of each field."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def refused(request: Request, session: ConsoleSession | None) -> HTMLResponse:
    return render(request, "error.html", session=session, status=403, title_key="error.title",
                  message=Texts(language(request))("error.csrf"))


def problem_page(request: Request, session: ConsoleSession | None, exc: ProblemError) -> HTMLResponse:
    t = Texts(language(request))
    if exc.status == 404:
        return render(request, "error.html", session=session, status=404, title_key="error.not_found",
                      message=t("error.not_found_detail"))
    if exc.status == 403:
        return render(request, "error.html", session=session, status=403, title_key="error.title",
                      message=t("error.forbidden"))
    return render(request, "error.html", session=session, status=exc.status, title_key="error.title",
                  message=t("error.invalid", detail=exc.detail or exc.title))


async def posted(request: Request) -> tuple[ConsoleSession | None, dict[str, str], bool]:
    """(session, form, accepted): a POST needs the session cookie and this session's CSRF token."""
    session = cookies.current_session(request)
    form = await form_of(request)
    return session, form, session is not None and cookies.csrf_ok(request, session, form.get("csrf_token"))


def _sign_in_redirect(request: Request) -> Response:
    return see_other(request, "/console/sign-in?" + urlencode({"next": _here(request)}))


# Sign-in, sign-out, language ------------------------------------------------------------------------------

@router.get("")
async def console_home(request: Request) -> Response:
    """The queue (or the sign-in page)."""
    return see_other(request, "/console/queue")


def _sign_in_form(request: Request, *, error: str | None, status: int, next_url: str | None) -> HTMLResponse:
    nonce = cookies.sign_in_nonce(request)
    response = render(request, "sign_in.html", session=None, csrf=cookies.sign_in_token(request, nonce), error=error,
                      status=status, next=_safe_next(next_url))
    cookies.keep_sign_in(request, response, nonce)
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    """The sign-in form."""
    if cookies.current_session(request) is not None:
        return see_other(request, _safe_next(request.query_params.get("next")))
    return _sign_in_form(request, error=None, status=200, next_url=request.query_params.get("next"))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Exchange an agent (or customer) key for a session cookie; the key is never stored, shown or logged."""
    form = await form_of(request)
    if not request.cookies.get(cookies.SIGN_IN_COOKIE) or not cookies.csrf_ok(request, None, form.get("csrf_token")):
        if not cookies.same_origin(request):
            return refused(request, None)
        # Two sign-in pages opened at once keep only one nonce: say so and offer a fresh form, not a dead end.
        return _sign_in_form(request, error=Texts(language(request))("error.csrf"), status=403,
                             next_url=form.get("next"))
    principal = request.app.state.keyring.lookup(form.get("api_key", "").strip())
    if principal is None or principal.role not in cookies.CONSOLE_ROLES:
        # One message for every failure: no hint whether the key is unknown, revoked or of another role.
        return _sign_in_form(request, error=Texts(language(request))("sign_in.wrong"), status=401,
                             next_url=form.get("next"))
    response = see_other(request, _safe_next(form.get("next")))
    cookies.set_session(request, response, principal)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session."""
    session, _, accepted = await posted(request)
    if not accepted:
        return refused(request, session)
    response = see_other(request, "/console/sign-in?note=out")
    cookies.end_session(response)
    return response


@router.post("/language")
async def switch_language(request: Request) -> Response:
    """Remember zh-CN or en for the pages and the diagnosis."""
    session = cookies.current_session(request)
    form = await form_of(request)
    if not cookies.csrf_ok(request, session, form.get("csrf_token")):
        return refused(request, session)
    response = see_other(request, _safe_next(form.get("next")))
    if form.get("lang") in LANGUAGES:
        cookies.remember_language(request, response, form["lang"])
    return response


# Queue and search ------------------------------------------------------------------------------------------

def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/queue")
async def queue_page(request: Request, session: SessionDep) -> Response:
    """Tickets by status, type and channel, newest or oldest first, with counts; cursor paging."""
    current = cookies.current_session(request)
    if current is None:
        return _sign_in_redirect(request)
    q = request.query_params
    filters = console.QueueFilters(status=_choice(q.get("status"), TICKET_STATUSES),
                                   type_=_choice(q.get("type"), TICKET_TYPES),
                                   channel=_choice(q.get("channel"), CHANNELS), newest_first=q.get("sort") != "oldest")
    page = await console.queue(session, principal=current.principal, filters=filters, cursor=q.get("cursor"))
    base = {k: v for k, v in {"status": filters.status, "type": filters.type_, "channel": filters.channel,
                              "sort": "oldest" if not filters.newest_first else None}.items() if v}
    next_url = "/console/queue?" + urlencode({**base, "cursor": page.next_cursor}) if page.next_cursor else None
    return render(request, "queue.html", session=current, page=page, filters=filters, statuses=TICKET_STATUSES,
                  types=TICKET_TYPES, channels=CHANNELS, next_url=next_url,
                  first_url="/console/queue?" + urlencode(base) if q.get("cursor") else None,
                  status_url=lambda s: "/console/queue?" + urlencode({**base, "status": s} if s else
                                                                      {k: v for k, v in base.items() if k != "status"}))


@router.get("/search")
async def search_page(request: Request, session: SessionDep) -> Response:
    """One box: order number, e-mail, phone, tracking number or tx hash."""
    current = cookies.current_session(request)
    if current is None:
        return _sign_in_redirect(request)
    query = request.query_params.get("q", "")[:200]
    tx = None
    if classify(query).kind == "tx_hash":
        # Asked before the first statement: no network call while a database transaction is open.
        tx = await console.check_tx(request.app.state.wallet_client, tx_hash=query, chain=None,
                                    answer_lang=language(request), with_answer=False)
    result = await console.search(session, principal=current.principal, query=query)
    return render(request, "search.html", session=current, query=query, result=result, tx=tx)


# Tickets --------------------------------------------------------------------------------------------------

@router.get("/tickets/{ticket_id}")
async def ticket_view(ticket_id: str, request: Request, session: SessionDep) -> Response:
    """A ticket: conversation, reply box, status moves, missing information, payment check."""
    current = cookies.current_session(request)
    if current is None:
        return _sign_in_redirect(request)
    try:
        page = await console.ticket_page(session, principal=current.principal, policy=request.app.state.policy,
                                         ticket_id=ticket_id, lang=language(request))
    except ProblemError as exc:
        return problem_page(request, current, exc)
    return render(request, "ticket.html", session=current, page=page, channels=CHANNELS)


@router.post("/tickets/{ticket_id}/messages")
async def ticket_reply(ticket_id: str, request: Request, session: SessionDep) -> Response:
    """A public reply on a channel, or an internal note."""
    current, form, accepted = await posted(request)
    if not accepted or current is None:
        return refused(request, current)
    try:
        body = schemas.MessageCreate(text=form.get("text", ""), channel=_choice(form.get("channel"), CHANNELS),  # type: ignore[arg-type]
                                     visibility="internal" if form.get("visibility") == "internal" else "public")
        await console.post_message(session, principal=current.principal, ticket_id=ticket_id, body=body)
    except ValidationError:
        return problem_page(request, current, InvalidInput("text"))
    except ProblemError as exc:
        return problem_page(request, current, exc)
    return see_other(request, f"/console/tickets/{ticket_id}?note=sent#conversation")


@router.post("/tickets/{ticket_id}/status")
async def ticket_move(ticket_id: str, request: Request, session: SessionDep) -> Response:
    """Move the status along the ticket transition table."""
    current, form, accepted = await posted(request)
    if not accepted or current is None:
        return refused(request, current)
    status = _choice(form.get("status"), TICKET_STATUSES)
    try:
        if status is None:
            raise InvalidInput("status")
        await console.move_ticket(session, principal=current.principal, ticket_id=ticket_id, status=status)
    except ProblemError as exc:
        return problem_page(request, current, exc)
    return see_other(request, f"/console/tickets/{ticket_id}?note=moved")


@router.post("/tickets/{ticket_id}/check")
async def ticket_check_again(ticket_id: str, request: Request, session: SessionDep) -> Response:
    """Re-check the ticket's transaction through the payment-check flow."""
    current, _, accepted = await posted(request)
    if not accepted or current is None:
        return refused(request, current)
    state = request.app.state
    try:
        await console.check_again(session, principal=current.principal, ticket_id=ticket_id,
                                  wallet=state.wallet_client, settings=state.settings,
                                  merchant_addresses=state.merchant_addresses)
    except ProblemError as exc:
        return problem_page(request, current, exc)
    return see_other(request, f"/console/tickets/{ticket_id}#payment-check")


# Orders ---------------------------------------------------------------------------------------------------

async def _order(request: Request, session: SessionDep, current: ConsoleSession, order_id: str, *,
                 status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> Response:
    try:
        page = await console.order_page(session, principal=current.principal, policy=request.app.state.policy,
                                        order_id=order_id, lang=language(request))
    except ProblemError as exc:
        return problem_page(request, current, exc)
    return render(request, "order.html", session=current, page=page, status=status, error=error, form=form or {},
                  reasons=RETURN_REASONS, conditions=CONDITIONS)


@router.get("/orders/{order_id}")
async def order_view(order_id: str, request: Request, session: SessionDep) -> Response:
    """An order: diagnosis, payment timeline, parcel scans, delivered-address check, returns."""
    current = cookies.current_session(request)
    if current is None:
        return _sign_in_redirect(request)
    return await _order(request, session, current, order_id)


@router.post("/orders/{order_id}/returns")
async def order_return(order_id: str, request: Request, session: SessionDep) -> Response:
    """Start a return for one item."""
    current, form, accepted = await posted(request)
    if not accepted or current is None:
        return refused(request, current)
    try:
        body = schemas.ReturnCreate.model_validate({
            "items": [{"sku": form.get("sku", ""), "quantity": int(form.get("quantity") or "1")}],
            "reason": form.get("reason"), "condition": form.get("condition") or None})
        await console.start_return(session, principal=current.principal, policy=request.app.state.policy,
                                   order_id=order_id, body=body)
    except (ValidationError, ValueError):
        return await _order(request, session, current, order_id, status=422, form=form,
                            error=Texts(language(request))("error.invalid", detail="sku, quantity, reason"))
    except ProblemError as exc:
        if exc.status == 404:
            return problem_page(request, current, exc)
        return await _order(request, session, current, order_id, status=exc.status, form=form,
                            error=Texts(language(request))("error.invalid", detail=exc.detail or exc.title))
    return see_other(request, f"/console/orders/{order_id}?note=return#returns")


# Tx checker -----------------------------------------------------------------------------------------------

@router.get("/tx")
async def tx_checker(request: Request) -> Response:
    """Status, confirmations, transfers, failure, replacement, other chains, and the wallet answer."""
    current = cookies.current_session(request)
    if current is None:
        return _sign_in_redirect(request)
    q = request.query_params
    answer_lang = _choice(q.get("answer_lang"), LANGUAGES) or language(request)
    page = None
    if q.get("tx_hash", "").strip():
        page = await console.check_tx(request.app.state.wallet_client, tx_hash=q.get("tx_hash", "")[:200],
                                      chain=_choice(q.get("chain"), ALL_CHAINS), answer_lang=answer_lang)
    return render(request, "tx.html", session=current, page=page, chains=ALL_CHAINS, answer_lang=answer_lang,
                  tx_query=q.get("tx_hash", ""), chosen=_choice(q.get("chain"), ALL_CHAINS))


def install_console(app: FastAPI) -> None:
    """The pages and their static files (vendored htmx, one stylesheet), all shipped in the package."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")


__all__ = ["install_console", "router"]
