"""HTTP routes of the customer channels: e-mail in, events to the shop, ticket attachments."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.auth import AnyRole, Principal, bearer_token, require
from services.common.db import SessionDep
from services.common.errors import problem_response, responses
from services.common.i18n import pick_language
from services.orders import repository as orders_repo
from services.orders import service as orders_service
from services.orders.channels import accounts, help_service, outbox, presenters, schemas
from services.orders.channels import repository as repo
from services.orders.channels import service as channels_service
from services.orders.channels.attachments import read as read_file
from services.orders.channels.errors import ChangeLinkInvalid, UnsupportedMediaType

router = APIRouter(prefix="/v1")
outbox.register_worker_hook()  # every process that serves these routes or runs the worker sends the outbox
ServiceOnly = Annotated[Principal, require("service")]
AgentOnly = Annotated[Principal, require("agent")]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]


@router.post("/inbound/email", response_model=schemas.InboundResult, status_code=status.HTTP_200_OK,
             responses=responses(401, 403, 413, 415), tags=["e-mail"],
             openapi_extra={"requestBody": {"required": True, "content": {"message/rfc822": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def inbound_email(request: Request, response: Response, session: SessionDep,
                        principal: ServiceOnly) -> schemas.InboundResult:
    """A raw RFC 5322 message (a mail server's pipe, an inbound-parse webhook) opens or continues a ticket."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "message/rfc822":
        raise UnsupportedMediaType("Send the raw message with Content-Type: message/rfc822.")
    raw = await request.body()
    if not raw.strip():
        raise UnsupportedMediaType("The message is empty.")
    state = request.app.state
    outcome = await channels_service.receive_email(session, raw=raw, settings=state.settings,
                                                   wallet=state.wallet_client,
                                                   merchant_addresses=state.merchant_addresses, policy=state.policy)
    if outcome.outcome == "ticket_created" and not outcome.duplicate:
        response.status_code = status.HTTP_201_CREATED
    return schemas.InboundResult(**outcome.__dict__)


@router.get("/events", response_model=schemas.EventList, tags=["events"])
async def list_events(session: SessionDep, principal: AgentOnly, order_id: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> schemas.EventList:
    """Events sent to the shop's webhook endpoints, newest first."""
    items = [presenters.event_public(e) for e in await repo.list_events(session, order_id=order_id, limit=limit)]
    return schemas.EventList(items=items, count=len(items))


@router.get("/events/{event_id}", response_model=schemas.EventPublic, responses=responses(404), tags=["events"])
async def get_event(event_id: str, session: SessionDep, principal: AgentOnly) -> schemas.EventPublic:
    """One event with its state per endpoint and its delivery log."""
    event, items, attempts = await channels_service.event_with_log(session, event_id=event_id)
    return presenters.event_public(event, items, attempts)


@router.post("/events/{event_id}/redeliver", response_model=schemas.EventPublic,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(404), tags=["events"])
async def redeliver_event(event_id: str, request: Request, session: SessionDep,
                          principal: AgentOnly) -> schemas.EventPublic:
    """Send an event again to every configured endpoint (the worker delivers it)."""
    await channels_service.redeliver(session, event_id=event_id, settings=request.app.state.settings)
    event, items, attempts = await channels_service.event_with_log(session, event_id=event_id)
    return presenters.event_public(event, items, attempts)


@router.post("/tickets/{ticket_id}/attachments", response_model=schemas.AttachmentPublic,
             status_code=status.HTTP_201_CREATED, responses=responses(404, 413, 415), tags=["tickets"],
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def upload_attachment(ticket_id: str, request: Request, session: SessionDep, principal: AnyRole,
                            filename: Annotated[str | None, Query(max_length=300)] = None) -> schemas.AttachmentPublic:
    """A screenshot, short video, PDF or text log for a ticket (raw bytes; the type is read from the content)."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    row = await channels_service.upload_attachment(session, ticket=ticket, data=await request.body(),
                                                   filename=filename, settings=request.app.state.settings)
    return schemas.AttachmentPublic.model_validate(row, from_attributes=True)


@router.get("/tickets/{ticket_id}/attachments", response_model=list[schemas.AttachmentPublic],
            responses=responses(404), tags=["tickets"])
async def list_attachments(ticket_id: str, session: SessionDep, principal: AnyRole) -> list[schemas.AttachmentPublic]:
    """A ticket's attachments (from e-mail and uploads)."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    return [schemas.AttachmentPublic.model_validate(a, from_attributes=True)
            for a in await repo.attachments_of(session, ticket.id)]


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}", responses=responses(404), tags=["tickets"],
            response_class=Response)
async def download_attachment(ticket_id: str, attachment_id: str, request: Request, session: SessionDep,
                              principal: AnyRole) -> Response:
    """The attachment's bytes, served as the type sniffed from them (never rendered inline)."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, ticket_id), principal,
                                                  ticket_id)
    row = await channels_service.get_attachment(session, ticket=ticket, attachment_id=attachment_id)
    data = read_file(request.app.state.settings.attachments_dir, row.storage_key)
    return Response(content=data, media_type=row.content_type, headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"})


# Account changes ------------------------------------------------------------------------------------------

def _change_public(view: accounts.ChangeView) -> schemas.ChangePublic:
    c = view.change
    return schemas.ChangePublic(id=c.id, customer_id=c.customer_id, status=c.status, changes=c.changes,
                                refused=view.refused, advice=view.advice, expires_at=c.expires_at,
                                confirmed_at=c.confirmed_at, applied_at=c.applied_at,
                                confirmations_needed=view.confirmations_needed, created_at=c.created_at)


def _optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    principal: Principal | None = request.app.state.keyring.lookup(token) if token else None
    return principal


@router.post("/customers/{customer_id}/changes", response_model=schemas.ChangePublic,
             status_code=status.HTTP_201_CREATED, responses=responses(404, 409, 422), tags=["customers"])
async def request_change(customer_id: str, body: schemas.ChangeCreate, request: Request, session: SessionDep,
                         principal: AnyRole, accept_language: AcceptLanguage = None) -> schemas.ChangePublic:
    """Ask to change contact e-mail, phone, default address or unshipped orders' address; applied after the
    customer follows the single-use link mailed to the address on file (and to a new e-mail address)."""
    view = await accounts.request_change(session, customer_id=customer_id, body=body, principal=principal,
                                         settings=request.app.state.settings,
                                         lang=body.lang or pick_language(accept_language))
    return _change_public(view)


@router.get("/customers/{customer_id}/changes/{change_id}", response_model=schemas.ChangePublic,
            responses=responses(404), tags=["customers"])
async def get_change(customer_id: str, change_id: str, session: SessionDep, principal: AnyRole) -> schemas.ChangePublic:
    """One change request and where it stands."""
    return _change_public(await accounts.get_change(session, customer_id=customer_id, change_id=change_id,
                                                    principal=principal))


@router.get("/customers/{customer_id}/audit", response_model=list[schemas.AuditPublic], tags=["customers"])
async def account_audit(customer_id: str, session: SessionDep, principal: AgentOnly) -> list[schemas.AuditPublic]:
    """Every applied account change: who asked, what changed from what to what, when it was confirmed."""
    return [schemas.AuditPublic.model_validate(a, from_attributes=True) for a in await repo.audit_of(session,
                                                                                                      customer_id)]


@router.get("/account-changes/confirm", response_class=HTMLResponse, responses=responses(410), tags=["customers"])
async def confirm_page(token: Annotated[str, Query(min_length=10, max_length=400)], session: SessionDep,
                       accept_language: AcceptLanguage = None) -> HTMLResponse:
    """The page the mailed link opens: it shows a button; only the button's POST applies the change."""
    await accounts.describe(session, token=token)
    zh = pick_language(accept_language) == "zh-CN"
    label = "确认修改" if zh else "Confirm the change"
    page = (f'<!doctype html><html><body style="font-family:sans-serif"><form method="post" action="?token='
            f'{html.escape(token)}"><button type="submit">{label}</button></form></body></html>')
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.post("/account-changes/confirm", response_model=schemas.ChangePublic, responses=responses(410),
             tags=["customers"])
async def confirm_change(token: Annotated[str, Query(min_length=10, max_length=400)], request: Request,
                         session: SessionDep,
                         accept_language: AcceptLanguage = None) -> schemas.ChangePublic | JSONResponse:
    """Follow a confirmation link (the token is the credential; a customer key of another account is refused)."""
    view = await accounts.confirm(session, token=token, principal=_optional_principal(request),
                                  settings=request.app.state.settings, lang=pick_language(accept_language))
    if view.change.status == "expired":
        return problem_response(ChangeLinkInvalid("This link has expired; ask for the change again.",
                                                  extra={"change_id": view.change.id, "change_status": "expired"}),
                                request)
    return _change_public(view)


# Help center ----------------------------------------------------------------------------------------------

@router.get("/help/articles", response_model=schemas.ArticleList, tags=["help"])
async def search_articles(session: SessionDep, principal: AnyRole,
                          q: Annotated[str, Query(max_length=200)] = "",
                          lang: Annotated[str | None, Query(pattern=r"^(zh-CN|en)$")] = None,
                          limit: Annotated[int, Query(ge=1, le=20)] = 10,
                          accept_language: AcceptLanguage = None) -> schemas.ArticleList:
    """Search the help center (Chinese is segmented into words), best match first."""
    return await help_service.search_articles(session, query=q, lang=lang or pick_language(accept_language),
                                              limit=limit)


@router.get("/help/articles/{article_id}", response_model=schemas.ArticlePublic, responses=responses(404),
            tags=["help"])
async def get_article(article_id: str, session: SessionDep, principal: AnyRole,
                      lang: Annotated[str | None, Query(pattern=r"^(zh-CN|en)$")] = None,
                      accept_language: AcceptLanguage = None) -> schemas.ArticlePublic:
    """One article with its body and how many tickets it resolved."""
    return await help_service.get_article(session, article_id=article_id,
                                          lang=lang or pick_language(accept_language))


@router.post("/help/articles/{article_id}/resolutions", response_model=schemas.ArticlePublic,
             status_code=status.HTTP_201_CREATED, responses=responses(404, 409), tags=["help"])
async def article_resolved(article_id: str, body: schemas.ResolutionCreate, session: SessionDep,
                           principal: AnyRole) -> schemas.ArticlePublic:
    """This article resolved that ticket: counted once per ticket, and the ticket moves to resolved."""
    ticket = orders_service.ensure_ticket_visible(await orders_repo.ticket_by_id(session, body.ticket_id,
                                                                                 for_update=True),
                                                  principal, body.ticket_id)
    return await help_service.record_resolution(session, article_id=article_id, ticket=ticket,
                                                author="customer" if principal.is_customer else "agent")
