"""Every sentence the wallet help desk says, one catalog per language. Answers are filled with what the
chain says now; nothing here is sent without the live facts behind it."""

from __future__ import annotations

from typing import Any

from services.common.i18n import fill

EN: dict[str, Any] = {
    "verdict": {
        "paid": "The transaction paid {paid} {token} to {to} on {chain} and has {confirmations} confirmations "
                "(required {required}).",
        "overpaid": "The transaction paid {paid} {token}, {difference} more than the {expected_amount} expected; "
                    "the surplus can be refunded to the sender.",
        "underpaid": "The transaction paid {paid} {token}, {difference} less than the {expected_amount} expected.",
        "pending_confirmations": "The payment of {paid} {token} is in a block with {confirmations} of {required} "
                                 "confirmations; it counts as paid at {required}.",
        "pending_mempool": "The transaction is waiting in the mempool ({pending_reason}); nothing is paid until it "
                           "is in a block.",
        "wrong_recipient": "The {token} went to {recipient}, not to the merchant address {to}.",
        "wrong_token": "The transaction sent {sent_token} to the merchant address, not {token}.",
        "wrong_chain": "This transaction is not on {chain}; it was found on {found_on}.",
        "not_found": "There is no transaction with this hash on {chain}; check the hash and the network.",
        "failed": "The transaction is in a block but failed ({failure}); no {token} moved.",
        "dropped": "The transaction left the mempool without being included; its nonce is still unused, so "
                   "nothing was paid.",
        "replaced": "Another transaction with the same nonce was included instead; this one will never be.",
        "unknown": "The {chain} network could not be reached just now; try again in {retry_after} seconds.",
    },
    "check": {
        "status": "Status on {chain}: {status}",
        "block": "In block {block_number} with {confirmations} of {required_confirmations} confirmations",
        "failure": "Failure: {reason} ({message})",
        "fee": "Network fee paid: {fee} {native}",
        "pending_reason": "Waiting because: {pending_reason}",
        "transfer": "Transfer: {amount} {token} from {from} to {to}",
        "found_on": "The same hash exists on: {found_on}",
        "replaced_by": "Replaced by {replaced_by} ({kind})",
        "resources": "Energy used {energy_used} ({energy_burned_trx} TRX burned), bandwidth used "
                     "{bandwidth_used} ({bandwidth_burned_trx} TRX burned)",
        "verdict": "Payment check against {to}: {verdict}",
    },
    "answer": {
        "pending.nonce_gap": "Your transfer is stuck because an earlier transaction from your address is missing "
                             "(nonce {missing_nonce}); a network runs each address's transactions in nonce order.",
        "pending.fee_too_low": "Your transfer is stuck because its maximum fee ({max_fee_gwei} gwei) is below the "
                               "network's current base fee ({base_fee_gwei} gwei): no block will include it.",
        "pending.in_mempool": "Your transfer is waiting in the mempool for a block; nothing is wrong with it yet.",
        "confirmed": "It is not stuck: it is in block {block_number} with {confirmations} of "
                     "{required_confirmations} confirmations.",
        "finalized": "It is complete: block {block_number}, {confirmations} confirmations, final.",
        "not_found": "The {chain} network has no transaction with this hash: it was not broadcast, it was dropped, "
                     "or it is on another network.",
        "dropped": "Your transfer was dropped from the mempool and its nonce is unused: nothing was sent.",
        "replaced": "Your transfer was replaced by another transaction with the same nonce ({replaced_by}, a "
                    "{kind}); check that one instead.",
        "unknown": "We cannot reach the {chain} network right now; please ask again in {retry_after} seconds.",
        "failed.out_of_energy": "The transfer failed for lack of energy: the contract call ran out of energy "
                                "({energy_used} used) and {energy_burned_trx} TRX was burned paying for it. "
                                "No tokens moved.",
        "failed.out_of_bandwidth": "The transfer failed for lack of bandwidth and TRX to pay for it; no tokens "
                                   "moved.",
        "failed.out_of_gas": "The transfer failed because it ran out of gas: {message}. The fee ({fee} {native}) "
                             "was spent, no tokens moved.",
        "failed.reverted": "The contract rejected the transfer: {message}. The fee ({fee} {native}) was spent, no "
                           "tokens moved.",
        "failed.insufficient_balance": "The transfer failed because the balance was not sufficient: {message}.",
        "failed.other": "The transfer is in a block but failed: {message}.",
        "not_failed": "It did not fail: its status is {status}.",
        "token_received": "This transaction sent {amount} {token} to {address} on {chain}. Wallets only show tokens "
                          "they track: add the token by its contract address {contract}.",
        "token_unknown": "This transaction sent {amount} units of the contract {contract} to {address}. It is not a "
                         "token we know on {chain}: be careful, fake tokens copy real names.",
        "token_none": "This transaction sent no tokens to {address}.",
        "token_not_final": "The tokens arrive once the transaction is in a block; it is {status} now.",
        "network_right": "The transaction is on {chain}, the network you named.",
        "network_wrong": "The transaction is not on {chain}: it is on {found_on}.",
        "network_none": "We found this hash on none of the networks we check ({checked}).",
        "credited_paid": "Your payment arrived: {explanation}",
        "credited_not": "Your payment does not match the order yet: {explanation}",
        "credited_sent": "This transaction sent {sent} to the merchant address {to} on {chain} ({status}); give us "
                         "the order number and we match it to the amount due.",
        "credited_nothing": "This transaction sent nothing to the merchant address {to} on {chain}.",
        "credited_no_merchant": "We have no merchant address configured for {chain}, so we can only confirm the "
                                "transaction itself: it is {status}.",
    },
    "steps": {
        "pending.nonce_gap": ["First send, or speed up, the transaction with nonce {missing_nonce}.",
                              "Or cancel the stuck one: send 0 to yourself with the same nonce and a higher fee."],
        "pending.fee_too_low": ["Speed it up: resend it with the same nonce and a higher fee.",
                                "Or cancel it: send 0 to yourself with the same nonce and a higher fee."],
        "pending.in_mempool": ["Wait a few minutes; if you are in a hurry, speed it up with a higher fee."],
        "confirmed": ["Wait for {remaining} more confirmations; no action is needed."],
        "finalized": ["No action is needed; if the recipient does not see it, give them the transaction hash."],
        "not_found": ["Check that the hash is complete and that you chose the right network.",
                      "If your wallet shows it as failed or dropped, send it again."],
        "dropped": ["Send the transfer again; nothing left your wallet."],
        "replaced": ["Check the replacing transaction's hash in your wallet's history."],
        "unknown": ["Ask again in {retry_after} seconds."],
        "failed.out_of_energy": ["Stake (freeze) TRX for energy, or rent energy, before sending tokens.",
                                 "Or keep enough TRX in the wallet to burn for energy: a USDT transfer needs about "
                                 "65,000 energy.",
                                 "Then send the transfer again."],
        "failed.out_of_bandwidth": ["Stake TRX for bandwidth or keep some TRX in the wallet to pay for it.",
                                    "Then send the transfer again."],
        "failed.out_of_gas": ["Send it again and let the wallet estimate the gas limit (or raise it)."],
        "failed.reverted": ["Check your token balance and any allowance the contract needs, then try again.",
                            "If it keeps failing, contact the token's or dApp's support with the hash."],
        "failed.insufficient_balance": ["Add funds to the sending address, then send again."],
        "failed.other": ["Contact support with the transaction hash."],
        "not_failed": ["No action is needed for a failure."],
        "token_received": ["In TokenPocket: Assets → + → search the contract address {contract} on {chain}."],
        "token_unknown": ["Do not interact with unknown tokens or approve them; they are often scams."],
        "token_none": ["Check the receiving address and the network the sender used."],
        "network_right": ["No network mix-up: ask about the transfer's status instead."],
        "network_wrong": ["Switch your wallet to {found_on}: the same address holds the funds there.",
                          "If you sent to an exchange on the wrong network, contact the exchange with the hash."],
        "network_none": ["Check the hash; it may not have been broadcast."],
        "credited": ["Open a payment_failed ticket with the order number {order_number} and this hash; a paid "
                     "order is reconciled automatically."],
    },
    "pending_reason": {"nonce_gap": "an earlier nonce is missing", "fee_too_low": "the fee is below the base fee",
                       "in_mempool": "in the mempool", "None": "—"},
}

ZH: dict[str, Any] = {
    "verdict": {
        "paid": "该交易已在 {chain} 上向 {to} 支付 {paid} {token}，确认数 {confirmations}（需要 {required}）。",
        "overpaid": "该交易支付了 {paid} {token}，比应付的 {expected_amount} 多 {difference}；多付部分可退回付款地址。",
        "underpaid": "该交易支付了 {paid} {token}，比应付的 {expected_amount} 少 {difference}。",
        "pending_confirmations": "{paid} {token} 的付款已上链，确认数 {confirmations}/{required}；达到 {required} 后计为已支付。",
        "pending_mempool": "该交易仍在内存池中等待（{pending_reason}）；上链前不计为已支付。",
        "wrong_recipient": "{token} 转给了 {recipient}，而不是商户地址 {to}。",
        "wrong_token": "该交易向商户地址发送的是 {sent_token}，而不是 {token}。",
        "wrong_chain": "该交易不在 {chain} 上，而是在 {found_on} 上。",
        "not_found": "{chain} 上没有这个哈希的交易；请检查哈希和网络。",
        "failed": "该交易已上链但执行失败（{failure}）；没有 {token} 转出。",
        "dropped": "该交易未被打包就离开了内存池；其 nonce 仍未使用，因此没有付款。",
        "replaced": "同一 nonce 的另一笔交易已被打包，这笔交易永远不会上链。",
        "unknown": "暂时无法连接 {chain} 网络；请在 {retry_after} 秒后重试。",
    },
    "check": {
        "status": "{chain} 上的状态：{status}",
        "block": "区块 {block_number}，确认数 {confirmations}/{required_confirmations}",
        "failure": "失败原因：{reason}（{message}）",
        "fee": "已付网络手续费：{fee} {native}",
        "pending_reason": "等待原因：{pending_reason}",
        "transfer": "转账：{amount} {token}，从 {from} 到 {to}",
        "found_on": "同一哈希存在于：{found_on}",
        "replaced_by": "已被 {replaced_by} 替换（{kind}）",
        "resources": "消耗能量 {energy_used}（燃烧 {energy_burned_trx} TRX），带宽 {bandwidth_used}（燃烧 "
                     "{bandwidth_burned_trx} TRX）",
        "verdict": "对商户地址 {to} 的付款核对：{verdict}",
    },
    "answer": {
        "pending.nonce_gap": "您的转账卡住了：您地址之前的一笔交易缺失（nonce {missing_nonce}），网络会按 nonce 顺序执行每个地址的交易。",
        "pending.fee_too_low": "您的转账卡住了：其最高手续费（{max_fee_gwei} gwei）低于网络当前基础费（{base_fee_gwei} gwei），不会被打包。",
        "pending.in_mempool": "您的转账正在内存池中等待打包，目前没有问题。",
        "confirmed": "交易没有卡住：已在区块 {block_number}，确认数 {confirmations}/{required_confirmations}。",
        "finalized": "交易已完成：区块 {block_number}，确认数 {confirmations}，已最终确认。",
        "not_found": "{chain} 网络上没有这个哈希的交易：可能未广播、已被丢弃，或在其他网络上。",
        "dropped": "您的转账已被内存池丢弃，其 nonce 未被使用：没有发出任何资产。",
        "replaced": "您的转账已被同一 nonce 的另一笔交易替换（{replaced_by}，{kind}）；请查看那笔交易。",
        "unknown": "暂时无法连接 {chain} 网络；请在 {retry_after} 秒后再次查询。",
        "failed.out_of_energy": "转账因能量不足失败：合约调用耗尽了能量（已用 {energy_used}），并燃烧了 {energy_burned_trx} TRX 支付能量。代币没有转出。",
        "failed.out_of_bandwidth": "转账因带宽不足且没有足够 TRX 支付而失败；代币没有转出。",
        "failed.out_of_gas": "转账因 gas 耗尽而失败：{message}。手续费（{fee} {native}）已扣除，代币没有转出。",
        "failed.reverted": "合约拒绝了这笔转账：{message}。手续费（{fee} {native}）已扣除，代币没有转出。",
        "failed.insufficient_balance": "转账因余额不足而失败：{message}。",
        "failed.other": "交易已上链但执行失败：{message}。",
        "not_failed": "交易没有失败：当前状态为 {status}。",
        "token_received": "该交易在 {chain} 上向 {address} 转入了 {amount} {token}。钱包只显示已添加的代币：请用合约地址 {contract} 添加该代币。",
        "token_unknown": "该交易向 {address} 转入了合约 {contract} 的 {amount} 个单位。这不是我们在 {chain} 上认识的代币：请小心，假币常冒用真名。",
        "token_none": "该交易没有向 {address} 转入任何代币。",
        "token_not_final": "交易上链后代币才会到账；当前状态为 {status}。",
        "network_right": "该交易在您所说的网络 {chain} 上。",
        "network_wrong": "该交易不在 {chain} 上，而是在 {found_on} 上。",
        "network_none": "我们检查的网络（{checked}）上都没有找到这个哈希。",
        "credited_paid": "您的付款已到账：{explanation}",
        "credited_not": "您的付款暂时与订单不符：{explanation}",
        "credited_sent": "该交易在 {chain} 上向商户地址 {to} 转入了 {sent}（{status}）；请提供订单号，我们会与应付金额核对。",
        "credited_nothing": "该交易没有向 {chain} 上的商户地址 {to} 转入任何资产。",
        "credited_no_merchant": "{chain} 上没有配置商户收款地址，我们只能确认交易本身：状态为 {status}。",
    },
    "steps": {
        "pending.nonce_gap": ["请先发送或加速 nonce 为 {missing_nonce} 的交易。",
                              "或取消卡住的交易：用相同 nonce、更高手续费向自己转 0。"],
        "pending.fee_too_low": ["加速：用相同 nonce、更高手续费重新发送。",
                                "或取消：用相同 nonce、更高手续费向自己转 0。"],
        "pending.in_mempool": ["请稍等几分钟；如着急，可提高手续费加速。"],
        "confirmed": ["再等待 {remaining} 个确认即可，无需操作。"],
        "finalized": ["无需操作；如收款方看不到，请把交易哈希发给对方。"],
        "not_found": ["请检查哈希是否完整、网络是否选对。",
                      "如钱包显示失败或已丢弃，请重新发送。"],
        "dropped": ["请重新发送这笔转账。"],
        "replaced": ["请在钱包历史中查看替换它的那笔交易。"],
        "unknown": ["请在 {retry_after} 秒后重试。"],
        "failed.out_of_energy": ["发送代币前先质押 TRX 获取能量，或租用能量。",
                                 "或在钱包中保留足够的 TRX 用于燃烧换取能量：一笔 USDT 转账约需 65,000 能量。",
                                 "然后重新发送转账。"],
        "failed.out_of_bandwidth": ["质押 TRX 获取带宽，或在钱包中保留一些 TRX 支付带宽。",
                                    "然后重新发送转账。"],
        "failed.out_of_gas": ["重新发送，并让钱包自动估算 gas 上限（或调高上限）。"],
        "failed.reverted": ["请检查代币余额以及合约所需的授权额度，然后重试。",
                            "如仍失败，请带上交易哈希联系代币或 DApp 的客服。"],
        "failed.insufficient_balance": ["请先向付款地址充值，再重新发送。"],
        "failed.other": ["请带上交易哈希联系客服。"],
        "not_failed": ["这笔交易不需要按失败处理。"],
        "token_received": ["在 TokenPocket 中：资产 → + → 在 {chain} 上搜索合约地址 {contract}。"],
        "token_unknown": ["不要与陌生代币交互或授权，它们常是骗局。"],
        "token_none": ["请核对收款地址以及付款方使用的网络。"],
        "network_right": ["网络没有选错：请改为查询转账状态。"],
        "network_wrong": ["将钱包切换到 {found_on}：同一地址在那里持有这笔资产。",
                          "如果您在错误的网络上转给了交易所，请带上哈希联系交易所。"],
        "network_none": ["请检查哈希；交易可能没有广播。"],
        "credited": ["请用订单号 {order_number} 和此哈希提交 payment_failed 工单；已支付的订单会自动入账。"],
    },
    "pending_reason": {"nonce_gap": "缺少更早的 nonce", "fee_too_low": "手续费低于基础费", "in_mempool": "在内存池中",
                       "None": "—"},
}

CATALOG = {"en": EN, "zh-CN": ZH}


def say(lang: str, group: str, key: str, params: dict[str, Any]) -> str:
    return fill(str(CATALOG[lang][group][key]), params)


def steps(lang: str, key: str, params: dict[str, Any]) -> list[str]:
    return [fill(s, params) for s in CATALOG[lang]["steps"].get(key, [])]
