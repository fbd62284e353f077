"""HTTP routes of the wallet-support service."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.common.auth import AnyRole
from services.wallet_support.chains.registry import ChainConfig
from services.wallet_support.schemas import ChainList, ChainPublic, TokenPublic

router = APIRouter(prefix="/v1")


@router.get("/chains", response_model=ChainList, tags=["chains"])
async def list_chains(request: Request, _: AnyRole) -> ChainList:
    """The configured chains with their confirmations policy and known tokens."""
    chains: dict[str, ChainConfig] = request.app.state.chains
    return ChainList(items=[
        ChainPublic(key=c.key, name=c.name, chain_id=c.chain_id, family=c.family, native_symbol=c.native_symbol,
                    native_decimals=c.native_decimals, required_confirmations=c.required_confirmations,
                    finality=c.finality, endpoints=len(c.rpc_urls),
                    tokens=[TokenPublic(symbol=t.symbol, contract=t.contract, decimals=t.decimals)
                            for t in c.tokens.values()])
        for c in chains.values()])
