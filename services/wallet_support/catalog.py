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

# Each family's own causes and fixes: "<family>.<key>" is said instead of "<key>" on that family's chains.
EN_FAMILIES: dict[str, dict[str, Any]] = {
    "verdict": {
        "bitcoin.dropped": "The transaction left the mempool without confirming and its inputs are still unspent, so "
                           "nothing was paid.",
        "bitcoin.replaced": "Its inputs were spent by another transaction instead; this one will never confirm.",
        "solana.dropped": "The transaction never landed and its blockhash has expired: it can no longer be processed, "
                          "so nothing was paid.",
        "aptos.dropped": "The transaction expired without being committed, so nothing was paid.",
        "antelope.failed": "The transaction was rejected ({failure}); it is in no block and no {token} moved.",
    },
    "check": {
        "fee_rate": "Fee rate {fee_rate} sat/vB; about {fee_rate_needed} sat/vB confirms within {fee_target_blocks} "
                    "blocks, {fee_rate_next_block} sat/vB in the next one",
        "rbf": "Signals replace-by-fee (RBF): {rbf}",
        "commitment": "Commitment level: {commitment}",
        "memo": "Memo: \"{memo}\"",
        "existential_deposit": "Existential deposit on {chain}: {existential_deposit} {native}",
        "ata": "Associated token account of {address} for {contract}: {ata} ({ata_state})",
    },
    "answer": {
        "native_received": "This transaction sent {amount} {native} to {address} on {chain} ({status}).",
        "bitcoin.pending.fee_too_low.rbf": "Your transfer is waiting because its fee rate ({fee_rate} sat/vB) is below "
                                           "what blocks take now: about {fee_rate_needed} sat/vB to confirm within "
                                           "{fee_target_blocks} blocks ({fee_rate_next_block} sat/vB for the next "
                                           "one). It signals RBF, so you can raise its fee.",
        "bitcoin.pending.fee_too_low.cpfp": "Your transfer is waiting because its fee rate ({fee_rate} sat/vB) is "
                                            "below what blocks take now: about {fee_rate_needed} sat/vB to confirm "
                                            "within {fee_target_blocks} blocks ({fee_rate_next_block} sat/vB for the "
                                            "next one). It does not signal RBF, so its fee cannot be replaced; it can "
                                            "be pulled through with CPFP.",
        "bitcoin.pending.in_mempool": "Your transfer is in the mempool paying {fee_rate} sat/vB, enough for the next "
                                      "{fee_target_blocks} blocks (about {fee_rate_needed} sat/vB): it should confirm "
                                      "soon.",
        "bitcoin.confirmed": "It is not stuck: it is in block {block_number} with {confirmations} of "
                             "{required_confirmations} confirmations (about 10 minutes each).",
        "bitcoin.dropped": "Your transfer left the mempool without confirming and its inputs are still unspent: "
                           "nothing was sent.",
        "bitcoin.replaced": "Your transfer was replaced: its inputs are now spent by {replaced_by} (a {kind}); check "
                            "that transaction instead.",
        "bitcoin.not_found": "The Bitcoin network has no transaction with this id: it was not broadcast, it was purged "
                             "from the mempool, or it is on another network.",
        "solana.pending.in_mempool": "Your transfer was processed by a leader but the cluster has not confirmed it "
                                     "yet: within seconds it confirms, or it is dropped.",
        "solana.confirmed": "It is not stuck: it is confirmed by a supermajority in slot {block_number} and becomes "
                            "finalized in about 13 seconds.",
        "solana.finalized": "It is complete: finalized in slot {block_number}.",
        "solana.dropped": "Your transfer never landed and its blockhash has expired (a transaction is valid for about "
                          "150 blocks, a minute or so): it can no longer be processed. Nothing was sent: re-send it.",
        "solana.not_found": "The Solana cluster has no record of this signature. A transaction that does not land "
                            "within about a minute of signing expires with its blockhash and never will: if that long "
                            "has passed, re-send it.",
        "solana.failed.insufficient_balance": "The transaction failed: {message}. The network fee ({fee} SOL) was "
                                              "still charged; nothing else moved.",
        "solana.failed.reverted": "The program rejected the transaction: {message}. The network fee ({fee} SOL) was "
                                  "still charged; nothing else moved.",
        "solana.failed.other": "The transaction failed: {message}. The network fee ({fee} SOL) was still charged.",
        "solana.token_received.ata": "This transaction sent {amount} {token} to {address}: they are in your associated "
                                     "token account {ata} for the mint {contract}. Wallets show a token once it is "
                                     "added: add it by its mint address {contract}.",
        "solana.token_received.other_account": "This transaction sent {amount} {token} owned by {address}, into the "
                                               "token account {token_account}, which is not your associated token "
                                               "account ({ata}, {ata_state}). Wallets list the associated account; "
                                               "the tokens are there, in the other account.",
        "aptos.pending.in_mempool": "Your transfer is in the mempool waiting to be committed; if it is not committed "
                                    "before it expires, nothing is sent.",
        "aptos.finalized": "It is complete: committed at version {block_number}. On Aptos a committed transaction is "
                           "final.",
        "aptos.confirmed": "It is complete: committed at version {block_number}. On Aptos a committed transaction is "
                           "final.",
        "aptos.dropped": "Your transfer expired without being committed: nothing was sent.",
        "aptos.failed.insufficient_balance": "The transaction was committed but aborted: {message}. The balance was not "
                                             "enough. The gas fee ({fee} APT) was charged; nothing else moved.",
        "aptos.failed.reverted": "The transaction was committed but the Move code aborted it: {message}. The gas fee "
                                 "({fee} APT) was charged; nothing else moved.",
        "aptos.failed.out_of_gas": "The transaction ran out of gas ({message}). The gas fee ({fee} APT) was charged; "
                                   "nothing else moved.",
        "aptos.failed.other": "The transaction was committed but failed: {message}. The gas fee ({fee} APT) was "
                              "charged.",
        "substrate.failed.insufficient_balance": "The extrinsic is in block {block_number} but failed: {message}. The "
                                                 "fee ({fee} {native}) was paid; nothing was transferred. An account "
                                                 "must also keep the existential deposit ({existential_deposit} "
                                                 "{native}) unless it is emptied completely.",
        "substrate.failed.other": "The extrinsic is in block {block_number} but failed: {message}. The fee ({fee} "
                                  "{native}) was paid; nothing was transferred.",
        "substrate.finalized": "It is complete: block {block_number}, finalized.",
        "substrate.confirmed": "It is in block {block_number} and will be finalized within a minute or so.",
        "substrate.native_received": "This transaction sent {amount} {native} to {address} on {chain} ({status}). "
                                     "{native} is the chain's own balance, shown without adding any token. An account "
                                     "holding less than the existential deposit ({existential_deposit} {native}) is "
                                     "reaped: its balance is removed, so a transfer that would leave less than that "
                                     "to a new account fails.",
        "antelope.failed.out_of_resources": "The transaction was rejected for lack of {resource}: {message}. On EOS an "
                                            "account needs CPU, NET and RAM; it is in no block, nothing was sent.",
        "antelope.failed.reverted": "The contract rejected the transfer: {message}. It is in no block; nothing was sent.",
        "antelope.failed.insufficient_balance": "The transfer was rejected: {message}. Nothing was sent.",
        "antelope.confirmed": "It is not stuck: it is in block {block_number} and becomes irreversible within about "
                              "three minutes.",
        "antelope.finalized": "It is complete: block {block_number}, irreversible.",
        "credited_memo_missing": "This transaction sent {sent} to {to} without a memo, and {to} credits deposits by "
                                 "memo: it cannot tell whose deposit this is, so it is not credited.",
    },
    "steps": {
        "bitcoin.pending.fee_too_low.rbf": ["Speed it up with RBF: your wallet re-sends it with the same inputs at a "
                                            "higher fee, at least {rbf_fee} BTC in total ({fee_rate_needed} sat/vB).",
                                            "Or wait for fees to drop; it stays valid while it is in the mempool."],
        "bitcoin.pending.fee_too_low.cpfp": ["Speed it up with CPFP (child pays for parent): the recipient, or you from "
                                             "your change, spends its output in a new transaction paying about "
                                             "{cpfp_child_fee} BTC, so that both together reach {fee_rate_needed} "
                                             "sat/vB.",
                                             "Or wait for fees to drop; it stays valid while it is in the mempool."],
        "bitcoin.pending.in_mempool": ["Wait for the next blocks (about 10 minutes each)."],
        "bitcoin.confirmed": ["Wait for {remaining} more confirmations; no action is needed."],
        "bitcoin.dropped": ["Send it again, with a fee rate that fits the current estimates."],
        "bitcoin.not_found": ["Check the transaction id and the network; if your wallet shows it as unconfirmed for "
                              "long, re-broadcast it or send again."],
        "solana.pending.in_mempool": ["Ask again in a few seconds."],
        "solana.confirmed": ["No action is needed."],
        "solana.dropped": ["Re-send it: your wallet signs it again with a fresh blockhash.",
                           "When the network is busy, add a priority fee so that it lands."],
        "solana.not_found": ["Check the signature and the network.",
                             "If more than a minute has passed since you sent it, re-send it."],
        "solana.failed.insufficient_balance": ["Keep enough SOL for fees and rent (a new token account needs about "
                                               "0.00203928 SOL), top up the balance, then send again."],
        "solana.failed.reverted": ["If it was a swap, raise the slippage tolerance or try again when the price is "
                                   "steadier.",
                                   "Otherwise contact the app's support with the signature."],
        "solana.failed.other": ["Contact support with the signature."],
        "solana.token_received.ata": ["Add the token by its mint {contract} in your wallet."],
        "solana.token_received.other_account": ["Ask the sender to send to your wallet address (its associated token "
                                                "account), or move the tokens from {token_account} to it."],
        "aptos.pending.in_mempool": ["Wait a few seconds and ask again."],
        "aptos.dropped": ["Send it again; nothing left your account."],
        "aptos.finalized": ["No action is needed."],
        "aptos.confirmed": ["No action is needed."],
        "aptos.failed.insufficient_balance": ["Add funds (and APT for gas) to the sending account, then send again."],
        "aptos.failed.reverted": ["Check the amount and the recipient; if the abort comes from an app's module, contact "
                                  "that app with the hash."],
        "aptos.failed.out_of_gas": ["Send it again with a higher maximum gas amount."],
        "aptos.failed.other": ["Contact support with the hash."],
        "substrate.failed.insufficient_balance": ["Keep more than the fee and the existential deposit in the sending "
                                                  "account, or send the whole balance with transfer_all."],
        "substrate.failed.other": ["If the error names a limit, follow it; otherwise contact support with the hash."],
        "substrate.finalized": ["No action is needed."],
        "substrate.confirmed": ["Wait for finalization; no action is needed."],
        "substrate.native_received": ["If the recipient is a new account, send at least the existential deposit."],
        "antelope.failed.out_of_resources": ["Stake or rent CPU and NET for the sending account (e.g. PowerUp), or buy "
                                             "RAM, then send again."],
        "antelope.failed.reverted": ["Do what the contract's message asks (often the memo's format), then send again."],
        "antelope.failed.insufficient_balance": ["Add funds to the sending account, then send again."],
        "antelope.confirmed": ["No action is needed; it becomes irreversible in a few minutes."],
        "antelope.finalized": ["No action is needed."],
        "credited_memo_missing": ["Contact {to}'s support with this transaction id and your account or deposit memo; "
                                  "they can credit it by hand."],
    },
}

ZH_FAMILIES: dict[str, dict[str, Any]] = {
    "verdict": {
        "bitcoin.dropped": "该交易未确认就离开了内存池，其输入仍未花费，因此没有付款。",
        "bitcoin.replaced": "其输入已被另一笔交易花费，这笔交易永远不会确认。",
        "solana.dropped": "该交易从未上链，且其 blockhash 已过期，不可能再被处理，因此没有付款。",
        "aptos.dropped": "该交易在过期前未被提交，因此没有付款。",
        "antelope.failed": "该交易被拒绝（{failure}），不在任何区块中，没有 {token} 转出。",
    },
    "check": {
        "fee_rate": "费率 {fee_rate} sat/vB；约 {fee_rate_needed} sat/vB 可在 {fee_target_blocks} 个区块内确认，下一个区块需 "
                    "{fee_rate_next_block} sat/vB",
        "rbf": "是否标记 RBF（手续费替换）：{rbf}",
        "commitment": "确认级别：{commitment}",
        "memo": "备注（memo）：\"{memo}\"",
        "existential_deposit": "{chain} 的存在性押金（最低余额）：{existential_deposit} {native}",
        "ata": "{address} 在 {contract} 的关联代币账户：{ata}（{ata_state}）",
    },
    "answer": {
        "native_received": "该交易在 {chain} 上向 {address} 转入了 {amount} {native}（{status}）。",
        "bitcoin.pending.fee_too_low.rbf": "您的转账在等待，因为其费率（{fee_rate} sat/vB）低于当前区块接受的费率：约需 "
                                           "{fee_rate_needed} sat/vB 才能在 {fee_target_blocks} 个区块内确认（下一个区块需 "
                                           "{fee_rate_next_block} sat/vB）。该交易标记了 RBF，可以提高手续费。",
        "bitcoin.pending.fee_too_low.cpfp": "您的转账在等待，因为其费率（{fee_rate} sat/vB）低于当前区块接受的费率：约需 "
                                            "{fee_rate_needed} sat/vB 才能在 {fee_target_blocks} 个区块内确认（下一个区块需 "
                                            "{fee_rate_next_block} sat/vB）。该交易没有标记 RBF，无法替换手续费，但可以用 "
                                            "CPFP 加速。",
        "bitcoin.pending.in_mempool": "您的转账在内存池中，费率 {fee_rate} sat/vB，足够在 {fee_target_blocks} 个区块内确认"
                                      "（约需 {fee_rate_needed} sat/vB），很快会确认。",
        "bitcoin.confirmed": "交易没有卡住：已在区块 {block_number}，确认数 {confirmations}/{required_confirmations}"
                             "（每个确认约 10 分钟）。",
        "bitcoin.dropped": "您的转账未确认就离开了内存池，其输入仍未花费：没有发出任何资产。",
        "bitcoin.replaced": "您的转账已被替换：其输入已被 {replaced_by}（{kind}）花费；请查看那笔交易。",
        "bitcoin.not_found": "比特币网络上没有这个交易 ID：可能未广播、已被内存池清除，或在其他网络上。",
        "solana.pending.in_mempool": "您的转账已被出块节点处理，但集群尚未确认：几秒内会确认或被丢弃。",
        "solana.confirmed": "交易没有卡住：已在 slot {block_number} 获得绝大多数确认，约 13 秒后最终确认。",
        "solana.finalized": "交易已完成：在 slot {block_number} 最终确认。",
        "solana.dropped": "您的转账从未上链，且其 blockhash 已过期（交易约 150 个区块、一分钟左右内有效）：不可能再被处理。"
                          "没有发出任何资产：请重新发送。",
        "solana.not_found": "Solana 集群上没有这个签名的记录。签名后约一分钟内未上链的交易会随 blockhash 过期，永远不会上链："
                            "如已超过这个时间，请重新发送。",
        "solana.failed.insufficient_balance": "交易失败：{message}。网络手续费（{fee} SOL）仍被扣除；其他资产没有转出。",
        "solana.failed.reverted": "程序拒绝了该交易：{message}。网络手续费（{fee} SOL）仍被扣除；其他资产没有转出。",
        "solana.failed.other": "交易失败：{message}。网络手续费（{fee} SOL）仍被扣除。",
        "solana.token_received.ata": "该交易向 {address} 转入了 {amount} {token}：代币在您 mint {contract} 的关联代币账户 "
                                     "{ata} 中。钱包需添加代币后才会显示：请用 mint 地址 {contract} 添加。",
        "solana.token_received.other_account": "该交易转入了 {amount} {token}（所有者 {address}），存入代币账户 "
                                               "{token_account}，这不是您的关联代币账户（{ata}，{ata_state}）。钱包只显示"
                                               "关联账户；代币在另一个账户中。",
        "aptos.pending.in_mempool": "您的转账在内存池中等待提交；如在过期前未提交，则不会发出任何资产。",
        "aptos.finalized": "交易已完成：已在版本 {block_number} 提交。Aptos 上已提交的交易即为最终确认。",
        "aptos.confirmed": "交易已完成：已在版本 {block_number} 提交。Aptos 上已提交的交易即为最终确认。",
        "aptos.dropped": "您的转账在提交前已过期：没有发出任何资产。",
        "aptos.failed.insufficient_balance": "交易已提交但被中止：{message}。余额不足。Gas 费（{fee} APT）已扣除；其他资产没有转出。",
        "aptos.failed.reverted": "交易已提交但被 Move 代码中止：{message}。Gas 费（{fee} APT）已扣除；其他资产没有转出。",
        "aptos.failed.out_of_gas": "交易 gas 耗尽（{message}）。Gas 费（{fee} APT）已扣除；其他资产没有转出。",
        "aptos.failed.other": "交易已提交但执行失败：{message}。Gas 费（{fee} APT）已扣除。",
        "substrate.failed.insufficient_balance": "该交易已在区块 {block_number} 中但执行失败：{message}。手续费（{fee} "
                                                 "{native}）已支付，没有转出资产。账户还必须保留存在性押金（{existential_deposit} "
                                                 "{native}），除非全部转出。",
        "substrate.failed.other": "该交易已在区块 {block_number} 中但执行失败：{message}。手续费（{fee} {native}）已支付，没有转出资产。",
        "substrate.finalized": "交易已完成：区块 {block_number}，已最终确认。",
        "substrate.confirmed": "交易已在区块 {block_number} 中，约一分钟内最终确认。",
        "substrate.native_received": "该交易在 {chain} 上向 {address} 转入了 {amount} {native}（{status}）。{native} 是链的原生"
                                     "余额，无需添加代币即可显示。余额低于存在性押金（{existential_deposit} {native}）的账户会"
                                     "被清除（reaped），余额随之消失，因此向新账户转入低于该数额的转账会失败。",
        "antelope.failed.out_of_resources": "该交易因 {resource} 资源不足被拒绝：{message}。EOS 账户需要 CPU、NET 和 RAM；"
                                            "该交易不在任何区块中，没有发出任何资产。",
        "antelope.failed.reverted": "合约拒绝了这笔转账：{message}。该交易不在任何区块中，没有发出任何资产。",
        "antelope.failed.insufficient_balance": "转账被拒绝：{message}。没有发出任何资产。",
        "antelope.confirmed": "交易没有卡住：已在区块 {block_number}，约三分钟内成为不可逆。",
        "antelope.finalized": "交易已完成：区块 {block_number}，已不可逆。",
        "credited_memo_missing": "该交易向 {to} 转入了 {sent}，但没有填写备注（memo），而 {to} 按备注识别充值："
                                 "无法确定这笔充值属于谁，因此没有入账。",
    },
    "steps": {
        "bitcoin.pending.fee_too_low.rbf": ["用 RBF 加速：钱包用相同输入、更高手续费重新发送，总手续费至少 {rbf_fee} BTC"
                                            "（{fee_rate_needed} sat/vB）。",
                                            "或等待手续费回落；交易在内存池中期间一直有效。"],
        "bitcoin.pending.fee_too_low.cpfp": ["用 CPFP（子交易为父交易付费）加速：收款方（或您用找零输出）花费它的输出，"
                                             "新交易支付约 {cpfp_child_fee} BTC，使两笔合计达到 {fee_rate_needed} sat/vB。",
                                             "或等待手续费回落；交易在内存池中期间一直有效。"],
        "bitcoin.pending.in_mempool": ["请等待接下来的区块（每个约 10 分钟）。"],
        "bitcoin.confirmed": ["再等待 {remaining} 个确认即可，无需操作。"],
        "bitcoin.dropped": ["请按当前费率重新发送。"],
        "bitcoin.not_found": ["请检查交易 ID 和网络；如钱包长时间显示未确认，请重新广播或重新发送。"],
        "solana.pending.in_mempool": ["请几秒后再查询。"],
        "solana.confirmed": ["无需操作。"],
        "solana.dropped": ["请重新发送：钱包会用新的 blockhash 重新签名。",
                           "网络拥堵时请添加优先费（priority fee）以便上链。"],
        "solana.not_found": ["请检查签名和网络。", "如发送已超过一分钟，请重新发送。"],
        "solana.failed.insufficient_balance": ["请保留足够的 SOL 支付手续费和租金（新代币账户约需 0.00203928 SOL），充值后重新发送。"],
        "solana.failed.reverted": ["如果是兑换，请调高滑点容忍度，或在价格稳定时重试。", "否则请带上签名联系该应用的客服。"],
        "solana.failed.other": ["请带上签名联系客服。"],
        "solana.token_received.ata": ["请在钱包中用 mint 地址 {contract} 添加该代币。"],
        "solana.token_received.other_account": ["请让付款方转到您的钱包地址（关联代币账户），或把代币从 {token_account} 转到关联账户。"],
        "aptos.pending.in_mempool": ["请几秒后再查询。"],
        "aptos.dropped": ["请重新发送；没有资产离开您的账户。"],
        "aptos.finalized": ["无需操作。"],
        "aptos.confirmed": ["无需操作。"],
        "aptos.failed.insufficient_balance": ["请向付款账户充值（并保留 APT 作为 gas），然后重新发送。"],
        "aptos.failed.reverted": ["请检查金额和收款方；如中止来自某个应用的模块，请带上哈希联系该应用。"],
        "aptos.failed.out_of_gas": ["请调高最大 gas 数量后重新发送。"],
        "aptos.failed.other": ["请带上哈希联系客服。"],
        "substrate.failed.insufficient_balance": ["付款账户请保留多于手续费和存在性押金的余额，或用 transfer_all 全部转出。"],
        "substrate.failed.other": ["如错误指出了限制，请按其处理；否则请带上哈希联系客服。"],
        "substrate.finalized": ["无需操作。"],
        "substrate.confirmed": ["请等待最终确认，无需操作。"],
        "substrate.native_received": ["如收款方是新账户，请至少转入存在性押金的数额。"],
        "antelope.failed.out_of_resources": ["为付款账户质押或租用 CPU 和 NET（例如 PowerUp），或购买 RAM，然后重新发送。"],
        "antelope.failed.reverted": ["按合约提示处理（通常是备注格式），然后重新发送。"],
        "antelope.failed.insufficient_balance": ["请向付款账户充值，然后重新发送。"],
        "antelope.confirmed": ["无需操作；几分钟后成为不可逆。"],
        "antelope.finalized": ["无需操作。"],
        "credited_memo_missing": ["请带上交易 ID 和您的账户或充值备注联系 {to} 的客服，由其人工入账。"],
    },
}

EN["words"] = {"exists": "exists", "missing": "does not exist", "yes": "yes", "no": "no"}
ZH["words"] = {"exists": "已存在", "missing": "不存在", "yes": "是", "no": "否"}

for _base, _extra in ((EN, EN_FAMILIES), (ZH, ZH_FAMILIES)):
    for _group, _entries in _extra.items():
        _base[_group].update(_entries)

CATALOG = {"en": EN, "zh-CN": ZH}


def _key(lang: str, group: str, key: str, family: str | None) -> str:
    """The family's own sentence when it has one, else the common one."""
    if family and f"{family}.{key}" in CATALOG[lang][group]:
        return f"{family}.{key}"
    return key


def say(lang: str, group: str, key: str, params: dict[str, Any], family: str | None = None) -> str:
    return fill(str(CATALOG[lang][group][_key(lang, group, key, family)]), params)


def steps(lang: str, key: str, params: dict[str, Any], family: str | None = None) -> list[str]:
    return [fill(s, params) for s in CATALOG[lang]["steps"].get(_key(lang, "steps", key, family), [])]
