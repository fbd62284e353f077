"""Request and response bodies of the wallet-support service, as the contract names them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.schemas import DecimalStr, StrictBody, Timestamp

TxState = Literal["not_found", "pending", "confirmed", "finalized", "failed", "dropped", "replaced", "unknown"]
VerdictName = Literal["paid", "underpaid", "overpaid", "wrong_recipient", "wrong_token", "pending", "failed",
                      "not_found", "dropped", "replaced", "wrong_chain", "unknown"]
Topic = Literal["tx_pending", "tx_failed", "token_not_showing", "wrong_network", "payment_not_credited"]


class TokenPublic(BaseModel):
    symbol: str
    contract: str
    decimals: int


class ChainPublic(BaseModel):
    key: str
    name: str
    chain_id: int | None = Field(description="EVM / TRON / Aptos chain id; null where the chain has none")
    family: Literal["evm", "tron", "bitcoin", "solana", "aptos", "substrate", "antelope"]
    native_symbol: str
    native_decimals: int
    decimals: int = Field(description="the native asset's decimals (same as native_decimals)")
    required_confirmations: int
    finality: str
    tokens: list[TokenPublic]
    endpoints: int
    configured: bool = Field(description="its endpoints were chosen (RPC_URLS_<CHAIN> or a chains file), not left "
                                         "on the packaged public defaults")
    reachable: bool | None = Field(description="an endpoint of the right network answered lately; null: not probed")


class ChainList(BaseModel):
    items: list[ChainPublic]


class Transfer(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    token: str | None
    contract: str
    from_: str | None = Field(alias="from", description="null when the chain does not name one sender (a Solana "
                                                         "transfer from several accounts, an Aptos mint)")
    to: str
    amount: str


class Failure(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: Literal["reverted", "out_of_gas", "out_of_energy", "out_of_bandwidth", "out_of_resources",
                    "insufficient_balance", "other"]
    message: str | None


class ReplacedBy(BaseModel):
    tx_hash: str
    kind: Literal["speedup", "cancel", "other"]


class TxStatus(BaseModel):
    """The contract's transaction status; chain-specific facts (resources, missing_nonce, found_on…) ride along."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    chain: str
    tx_hash: str
    status: TxState
    confirmations: int
    required_confirmations: int
    block_number: int | None
    block_time: Timestamp | None
    from_: str | None = Field(alias="from")
    to: str | None
    native_value: str | None
    fee: str | None
    transfers: list[Transfer]
    failure: Failure | None
    replaced_by: ReplacedBy | None
    pending_reason: Literal["nonce_gap", "fee_too_low", "in_mempool"] | None = None
    retry_after: int | None = None
    checked_at: Timestamp


class TxRef(StrictBody):
    chain: str = Field(min_length=1, max_length=32)
    tx_hash: str = Field(min_length=1, max_length=100)


class TxBatchRequest(StrictBody):
    items: list[TxRef] = Field(min_length=1, max_length=1000)


class TxBatchResponse(BaseModel):
    items: list[TxStatus]


class ExpectedPayment(StrictBody):
    to: str | None = Field(default=None, max_length=100)
    token: str = Field(min_length=1, max_length=16)
    amount: DecimalStr
    min_confirmations: int | None = Field(default=None, ge=0, le=10_000)


class VerifyRequest(StrictBody):
    chain: str = Field(min_length=1, max_length=32)
    tx_hash: str = Field(min_length=1, max_length=100)
    expected: ExpectedPayment
    lang: Literal["en", "zh-CN"] | None = None
    fresh: bool = Field(default=False, description="ask the chain even for a cached final answer (reorg watch)")


class VerifyResponse(BaseModel):
    verdict: VerdictName
    tx: TxStatus
    paid_amount: str | None
    difference: str | None
    explanation: str
    found_on: list[str] = Field(default_factory=list)
    retry_after: int | None = None


class QuestionRequest(StrictBody):
    topic: Topic
    chain: str = Field(min_length=1, max_length=32)
    tx_hash: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=100)
    order_number: str | None = Field(default=None, max_length=64)
    expected: ExpectedPayment | None = None
    lang: Literal["en", "zh-CN"] | None = None


class Answer(BaseModel):
    topic: Topic
    lang: str
    answer: str
    status: TxStatus | None
    checks: list[str]
    next_steps: list[str]
    verdict: VerdictName | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)
