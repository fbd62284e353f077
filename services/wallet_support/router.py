"""HTTP routes of the wallet-support service: chains, tx status, payment verification, questions."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response

from services.common.auth import AnyRole
from services.common.errors import responses
from services.common.i18n import pick_language
from services.common.ratelimit import charge
from services.wallet_support import schemas
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.service import WalletService

router = APIRouter(prefix="/v1")
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]
FRESH_VERIFY_COST = 10  # a fresh verify skips the cache: every one goes to the chain


def _service(request: Request) -> WalletService:
    service: WalletService = request.app.state.wallet
    return service


def _lang(explicit: str | None, header: str | None) -> str:
    return explicit or pick_language(header)


@router.get("/chains", response_model=schemas.ChainList, tags=["chains"])
async def list_chains(request: Request, _: AnyRole, probe: bool = True) -> schemas.ChainList:
    """Every chain with its family, decimals, confirmations policy, known tokens, and whether it is configured
    and reachable (each chain's endpoints probed at most every 30 s, 3 s each; `probe=false` skips it)."""
    chains: dict[str, ChainConfig] = request.app.state.chains
    reachable = await _service(request).reachability() if probe else {}
    configured: set[str] = request.app.state.readiness.configured  # worked out once, at start-up
    return schemas.ChainList(items=[
        schemas.ChainPublic(key=c.key, name=c.name, chain_id=c.chain_id, family=c.family,
                            native_symbol=c.native_symbol, native_decimals=c.native_decimals,
                            decimals=c.native_decimals, required_confirmations=c.required_confirmations,
                            finality=c.finality, endpoints=len(c.rpc_urls), configured=c.key in configured,
                            reachable=reachable.get(c.key),
                            tokens=[schemas.TokenPublic(symbol=t.symbol, contract=t.contract, decimals=t.decimals)
                                    for t in c.tokens.values()])
        for c in chains.values()])


@router.get("/tx/{chain}/{tx_hash}", response_model=schemas.TxStatus, response_model_by_alias=True,
            responses=responses(422, 429), tags=["transactions"])
async def tx_status(chain: str, tx_hash: str, request: Request, response: Response,
                    principal: AnyRole) -> schemas.TxStatus:
    """A transaction's status from the chain: pending, confirmed, finalized, failed and why, dropped, replaced."""
    service = _service(request)
    config = service.chain(chain)
    normalized = service.tx_hash(config, tx_hash)
    await charge(request, principal, "lookups")
    status = await service.status(config, normalized)
    _retry_advice(response, status.get("retry_after") if status["status"] == "unknown" else None)
    return schemas.TxStatus.model_validate(status)


def _retry_advice(response: Response, seconds: int | None) -> None:
    """An answer we could not get is still a 200 with status/verdict unknown; the header says when to ask again."""
    if seconds:
        response.headers["Retry-After"] = str(seconds)


@router.post("/tx/batch", response_model=schemas.TxBatchResponse, response_model_by_alias=True,
             responses=responses(422, 429), tags=["transactions"])
async def tx_batch(body: schemas.TxBatchRequest, request: Request, principal: AnyRole) -> Response:
    """Up to 1,000 statuses in one call, in the order asked; finalized and failed answers come from cache."""
    service = _service(request)
    refs = []
    for index, item in enumerate(body.items):
        config = service.chain(item.chain)
        refs.append((config, service.tx_hash(config, item.tx_hash, field=f"items.{index}.tx_hash")))
    await charge(request, principal, "lookups", len(refs))
    # Encoded once, straight from the statuses our pure functions built (a test checks them against TxStatus):
    # validating 1,000 models and then re-validating the response cost more than the chain calls.
    return Response(_batch_json(await service.statuses(refs)), media_type="application/json")


def _batch_json(statuses: list[dict[str, Any]]) -> bytes:
    """The TxBatchResponse body: times in UTC with a Z, as the models write them."""
    return orjson.dumps({"items": [{**TX_STATUS_DEFAULTS, **s} for s in statuses]}, option=orjson.OPT_UTC_Z)


TX_STATUS_DEFAULTS: dict[str, Any] = {"pending_reason": None, "retry_after": None}


@router.post("/payments/verify", response_model=schemas.VerifyResponse, response_model_by_alias=True,
             responses=responses(422, 429), tags=["payments"])
async def verify_payment(body: schemas.VerifyRequest, request: Request, response: Response, principal: AnyRole,
                         accept_language: AcceptLanguage = None) -> schemas.VerifyResponse:
    """Did this tx pay the expected recipient, token and amount, at the required confirmations?"""
    service = _service(request)
    config = service.chain(body.chain)
    tx_hash = service.tx_hash(config, body.tx_hash)
    expected = service.expected(config, body.expected.to, body.expected.token, body.expected.amount,
                                body.expected.min_confirmations)
    await charge(request, principal, "verifies", FRESH_VERIFY_COST if body.fresh else 1)
    result = await service.verify(config, tx_hash, expected, _lang(body.lang, accept_language), fresh=body.fresh)
    _retry_advice(response, result.get("retry_after") if result["verdict"] == "unknown" else None)
    return schemas.VerifyResponse.model_validate(result)


@router.post("/questions", response_model=schemas.Answer, response_model_by_alias=True,
             responses=responses(422, 429), tags=["questions"])
async def answer_question(body: schemas.QuestionRequest, request: Request, principal: AnyRole,
                          accept_language: AcceptLanguage = None) -> schemas.Answer:
    """A wallet user's question answered from what the chain says now, in their language."""
    service = _service(request)
    config = service.chain(body.chain)
    tx_hash = service.tx_hash(config, body.tx_hash) if body.tx_hash else None
    if tx_hash is None and body.topic != "wrong_network":
        service.tx_hash(config, "")  # raises the 422 that says what a hash looks like
    address = service.address(config, body.address, "address") if body.address else None
    expected = None
    merchant = None
    if body.topic == "payment_not_credited":
        spec = body.expected
        given = (spec.to if spec else None) or service.merchants.get(config.key)
        merchant = service.address(config, given, "expected.to") if given else None
        if merchant and spec is not None:
            expected = service.expected(config, merchant, spec.token, spec.amount, spec.min_confirmations)
    await charge(request, principal, "lookups", 1 if tx_hash else 0)
    result = await service.answer(topic=body.topic, chain=config, tx_hash=tx_hash, address=address,
                                  order_number=body.order_number, expected=expected,
                                  lang=_lang(body.lang, accept_language), merchant=merchant)
    return schemas.Answer.model_validate(result)
