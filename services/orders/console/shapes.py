"""What a search box entry is, from its shape alone: a tx hash (and of which chain family), an e-mail, a phone
number, or an order/tracking reference. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

EVM_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")
BASE58_SIG = re.compile(r"[1-9A-HJ-NP-Za-km-z]{64,90}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[\d\s\-().]{7,24}")

# Families in the order a hash of that shape is most likely met at this desk; the first chain is asked first
# (wallet-support then looks on the family's other chains and says where it found it: found_on).
CHAINS_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "evm": ("eth", "bsc", "polygon"),
    "aptos": ("aptos",),
    "substrate": ("dot", "ksm"),
    "tron": ("tron",),
    "bitcoin": ("btc",),
    "antelope": ("eos",),
    "solana": ("solana",),
}
ALL_CHAINS: tuple[str, ...] = tuple(c for chains in CHAINS_BY_FAMILY.values() for c in chains)


@dataclass(frozen=True)
class QueryShape:
    kind: str  # tx_hash | email | phone | reference
    text: str
    families: tuple[str, ...] = ()
    digits: str = ""

    @property
    def default_chain(self) -> str | None:
        return CHAINS_BY_FAMILY[self.families[0]][0] if self.families else None


def tx_families(text: str) -> tuple[str, ...]:
    text = text.strip()
    # One shape fits several families; wallet-support looks on the others and says where it is (found_on).
    if EVM_HASH.fullmatch(text):
        return ("evm", "aptos", "substrate")
    if HEX64.fullmatch(text):
        return ("tron", "bitcoin", "antelope")
    if BASE58_SIG.fullmatch(text):
        return ("solana",)
    return ()


def family_of_chain(chain: str) -> str | None:
    return next((f for f, chains in CHAINS_BY_FAMILY.items() if chain in chains), None)


def classify(query: str) -> QueryShape:
    text = " ".join(query.split())
    families = tx_families(text)
    if families:
        return QueryShape("tx_hash", text, families)
    if EMAIL.fullmatch(text):
        return QueryShape("email", text.lower())
    digits = re.sub(r"\D", "", text)
    if PHONE.fullmatch(text) and 7 <= len(digits) <= 15:
        return QueryShape("phone", text, digits=digits)
    return QueryShape("reference", text)
