"""Every text the diagnosis shows, one catalog per language. Rules name a key and give facts; they never
write sentences themselves."""

from __future__ import annotations

from typing import Any

from services.common.i18n import fill, pick_language

LANGUAGES = ("en", "zh-CN")

EN: dict[str, dict[str, Any]] = {
    "ok": {"title": "No problems found with this order"},
    "payment_failed": {
        "title": "Payment failed: {failure}",
        "detail": "The latest payment attempt ({method}, {amount} {currency}) failed at {failed_at} and no payment "
                  "has succeeded.",
        "steps": ["Check the payment details (card number, expiry date, billing address) and the available balance "
                  "or limit.",
                  "Try again, or pay with another method (Alipay, WeChat Pay, another card).",
                  "If money left your account, contact support with the order number so that we can confirm the "
                  "payment status."]},
    "payment_pending_too_long": {
        "title": "Payment pending for {hours} hours",
        "detail": "A {method} payment of {amount} {currency} has been pending since {since}.",
        "steps": ["Check with your bank or wallet whether the money has left your account.",
                  "Do not pay twice: if you were charged, contact support with the order number and the receipt.",
                  "If nothing was charged, pay again or choose another payment method."]},
    "crypto_payment_unverified.mismatch": {
        "title": "Crypto payment does not match the order: {verdict}",
        "detail": "{explanation}",
        "steps": ["Do not send again yet: contact support with the transaction hash and the network you used.",
                  "An agent checks the transfer and arranges the missing amount, a refund or a recovery."]},
    "crypto_payment_unverified.underpaid": {
        "title": "Crypto payment is short by {difference} {token}",
        "detail": "{explanation}",
        "steps": ["Send the missing {difference} {token} to the same address on the same network, or ask support "
                  "to refund what was sent.",
                  "Reply with the new transaction hash so that we can match it to the order."]},
    "crypto_payment_unverified.not_paid": {
        "title": "Crypto transfer did not pay the order: {verdict}",
        "detail": "{explanation}",
        "steps": ["Check the transaction in your wallet: it did not reach the merchant address.",
                  "Pay again once the wallet shows it failed or was dropped; only the network fee was spent.",
                  "Contact support with the transaction hash if your wallet shows it as successful."]},
    "crypto_payment_unverified.not_yours": {
        "title": "This transfer cannot pay the order: {verdict}",
        "detail": "{explanation}",
        "steps": ["Send us the transaction hash of the transfer you made for this order (your wallet's history "
                  "shows it with its date and amount).",
                  "If you believe this transfer was made for this order, reply here: an agent checks it by hand."]},
    "crypto_payment_unverified.waiting": {
        "title": "Crypto payment not final yet: {verdict}",
        "detail": "{explanation}",
        "steps": ["No action is needed yet: we re-check the transaction until it is final.",
                  "Do not send the payment a second time."]},
    "status_mismatch.paid_without_payment": {
        "title": "Order marked {status} but no payment succeeded",
        "detail": "The order status is {status}, yet its payments are: {payments}.",
        "steps": ["Give us the order number so that we can verify the payment with the payment provider.",
                  "Keep the payment receipt or bank statement at hand."]},
    "status_mismatch.unpaid_with_payment": {
        "title": "A payment succeeded but the order still awaits payment",
        "detail": "Payment {payment_id} succeeded ({amount} {currency}) while the order is {status}.",
        "steps": ["Give us the order number for verification; we correct the order status."]},
    "status_mismatch.shipped_without_scan": {
        "title": "Marked shipped {hours} hours ago but the carrier has no scan",
        "detail": "{carrier} has reported nothing for {tracking_number} since it was registered at {since}; "
                  "its usual gap is {gap_hours} hours.",
        "steps": ["Give us the order number for verification; we check with the warehouse whether the parcel was "
                  "handed over.",
                  "Check the tracking number again in the carrier's app tomorrow."]},
    "status_mismatch.delivered_not_updated": {
        "title": "The carrier delivered the parcel but the order still says {status}",
        "detail": "{carrier} reported {tracking_number} delivered at {delivered_at}.",
        "steps": ["Give us the order number for verification; we update the order status."]},
    "status_mismatch.event_after_delivery": {
        "title": "Carrier reported {event_status} after the delivery",
        "detail": "{carrier} reported {tracking_number} delivered at {delivered_at}, then {event_status} at "
                  "{event_at}: {description}.",
        "steps": ["Check whether the parcel actually reached you.",
                  "Give us the order number and tracking number; we open an inquiry with the carrier."]},
    "not_shipped_yet": {
        "title": "Not shipped yet, {hours} hours after payment",
        "detail": "Paid at {paid_at}; orders usually ship within {ship_within} hours.",
        "steps": ["The order is being prepared; it usually ships within {ship_within} hours of payment.",
                  "If you need it urgently, contact support with the order number."]},
    "no_tracking_updates": {
        "title": "No carrier scan for {hours} hours",
        "detail": "The last scan of {tracking_number} by {carrier} was {status} at {last_event_at}; its usual gap "
                  "is {gap_hours} hours.",
        "steps": ["Check the tracking page with the tracking number {tracking_number}.",
                  "Confirm that the shipping address is complete and correct.",
                  "Contact the carrier ({carrier}) while the parcel is in transit; contact support if it is "
                  "confirmed lost."]},
    "delivery_exception": {
        "title": "The carrier reported a problem: {description}",
        "detail": "{carrier} reported an exception for {tracking_number} at {event_at} ({raw_status}).",
        "steps": ["Read the carrier's note on the tracking page for {tracking_number}.",
                  "Contact the carrier ({carrier}) to resolve it (address, customs, duties).",
                  "If the parcel is damaged or lost, contact support with the order number: we reship or refund."]},
    "failed_delivery_attempt": {
        "title": "Delivery attempted at {event_at} but failed",
        "detail": "{carrier}: {description}",
        "steps": ["Arrange a new delivery time with the carrier ({carrier}) or choose a pickup point.",
                  "Make sure the address and phone number are right and someone can receive the parcel."]},
    "awaiting_pickup.station": {
        "title": "Parcel waiting at {pickup_point} since {event_at}: collect it there",
        "detail": "{carrier}: {description}",
        "steps": ["Collect it at {pickup_point} {pickup_directions} with your pickup code (sent by the carrier or "
                  "the station by SMS) or your ID.",
                  "Stations and lockers send unclaimed parcels back after a few days; if you cannot go, ask someone "
                  "to collect it with the pickup code.",
                  "If the station says it does not have the parcel, contact support with the tracking number "
                  "{tracking_number}."]},
    "awaiting_pickup": {
        "title": "Parcel waiting for pickup since {event_at}",
        "detail": "{carrier}: {description} {location}",
        "steps": ["Collect the parcel with your ID and the pickup code from the carrier's message.",
                  "Pickup points send unclaimed parcels back after a few days."]},
    "returned_to_sender": {
        "title": "Parcel is going back to the sender",
        "detail": "{carrier} reported {tracking_number} {raw_status} at {event_at}.",
        "steps": ["Confirm the shipping address and phone number.",
                  "Contact support with the order number to arrange a reshipment or a refund."]},
    "delivered_to_different_address.coordinates": {
        "title": "Parcel marked delivered {distance_km} km from the shipping address",
        "detail": "{carrier} delivered {tracking_number} at {delivered_at}, {distance_km} km from the address "
                  "on the order.",
        "steps": ["Check with neighbours, the building's reception and parcel lockers nearby.",
                  "Ask the carrier ({carrier}) for the proof of delivery with the tracking number.",
                  "If the parcel is not found within 48 hours, contact support to open a lost-parcel claim."]},
    "delivered_to_different_address.text": {
        "title": "Parcel marked delivered at a different address",
        "detail": "{carrier} delivered {tracking_number} at {delivered_at}; these differ from the order's "
                  "address: {fields}.",
        "steps": ["Check with neighbours, the building's reception and parcel lockers nearby.",
                  "Ask the carrier ({carrier}) for the proof of delivery with the tracking number.",
                  "If the parcel is not found within 48 hours, contact support to open a lost-parcel claim."]},
    "delivered_but_reported_missing": {
        "title": "Carrier says delivered at {delivered_at}, customer says not received",
        "detail": "Ticket {ticket_id} reports the parcel missing; {carrier} marked {tracking_number} delivered.",
        "steps": ["Look around the delivery place and ask household members and neighbours.",
                  "Ask the carrier for the proof of delivery (photo, signature, GPS position).",
                  "If it is not found, support opens a claim for a reshipment or a refund."]},
    "wrong_item_reported": {
        "title": "Customer reports receiving the wrong item",
        "detail": "Ticket {ticket_id}: {description}",
        "steps": ["Take photos of the item received, its label and the packaging.",
                  "Keep the packaging and the invoice.",
                  "Request an exchange or a return: for a wrong item it is free and allowed outside the return "
                  "window."]},
    "return_window_open": {
        "title": "Return window open until {deadline}",
        "detail": "Items can be returned until {deadline} ({counted_from} + {window_days} days).",
        "steps": ["Request a return from the order page or through support before {deadline}."]},
    "return_window_closed": {
        "title": "Return window closed on {deadline}",
        "detail": "The return window ended {deadline} ({counted_from} + {window_days} days).",
        "steps": ["Returns for a change of mind are no longer possible; wrong or damaged items can still be "
                  "returned."]},
    "ticket": {
        "paid": "Checked on {chain}: {explanation} Payment {payment_id} is now succeeded and the order is paid.",
        "waiting": "Checked on {chain}: {explanation} We check it again automatically until it is final.",
        "not_paid": "Checked on {chain}: {explanation}",
        "unknown": "We could not reach the {chain} network to check the transaction; we try again automatically.",
        "rejected": "The transaction could not be checked: {detail}",
        "deadline": "The transaction was still not final after {hours} hours; an agent will look at it.",
        "reorg": "The transaction left the chain after it was counted; the payment is pending again.",
        "already_used": "This {chain} transfer was already counted for another order, so it cannot pay this one.",
        "before_order": "This {chain} transfer was made before the order was placed, so it cannot be its payment.",
        "not_found_yet": "The {chain} network does not show this transaction yet; we keep checking for a while "
                         "(a transfer can take a few minutes to appear).",
        "reorg_after_fulfilment": "Payment {payment_id} left the chain after the order moved on to {order_status}: "
                                  "the order was not moved back; check the payment before anything else ships.",
        "reconcile_blocked": "The chain says {verdict} for payment {payment_id}, which is {status}: nothing was "
                             "changed (that move is not allowed); please review.",
        "no_merchant_address": "The shop has no receiving address configured on {chain}, so the transfer cannot "
                               "be checked automatically; an agent will check it by hand.",
        "no_expectation": "There is no crypto payment on record to check this transaction against (token and "
                          "amount); an agent will look at it.",
        "stalled": "No carrier scan for {hours} hours on {tracking_number} ({carrier}); we are checking with "
                   "the carrier.",
    },
    "failure": {"insufficient_funds": "insufficient funds", "card_declined": "card declined",
                "expired": "payment expired", "authentication_failed": "authentication failed",
                "risk_control": "blocked by risk control", "none": "no reason given"},
    "counted_from": {"delivery": "delivery", "placement": "order date"},
}

ZH: dict[str, dict[str, Any]] = {
    "ok": {"title": "订单未发现问题"},
    "payment_failed": {
        "title": "支付失败：{failure}",
        "detail": "最近一次支付（{method}，{amount} {currency}）于 {failed_at} 失败，订单尚无成功的支付。",
        "steps": ["请检查支付信息（卡号、有效期、账单地址）以及可用余额或额度。",
                  "请重新支付，或换用其他支付方式（支付宝、微信支付、其他银行卡）。",
                  "如果账户已扣款，请提供订单号联系客服，我们会为您核实支付状态。"]},
    "payment_pending_too_long": {
        "title": "支付已等待 {hours} 小时",
        "detail": "一笔{method}支付（{amount} {currency}）自 {since} 起一直处于处理中。",
        "steps": ["请向银行或钱包确认款项是否已扣除。",
                  "请勿重复支付：如已扣款，请提供订单号和支付凭证联系客服。",
                  "如未扣款，请重新支付或换用其他支付方式。"]},
    "crypto_payment_unverified.mismatch": {
        "title": "链上付款与订单不符：{verdict}",
        "detail": "{explanation}",
        "steps": ["请先不要重复转账：请提供交易哈希和所用网络联系客服。",
                  "客服核实转账后，会为您安排补款、退款或找回。"]},
    "crypto_payment_unverified.underpaid": {
        "title": "链上付款少了 {difference} {token}",
        "detail": "{explanation}",
        "steps": ["请在同一网络向同一地址补足 {difference} {token}，或联系客服退回已付款项。",
                  "补款后请回复新的交易哈希，以便我们关联订单。"]},
    "crypto_payment_unverified.not_paid": {
        "title": "链上转账未完成订单付款：{verdict}",
        "detail": "{explanation}",
        "steps": ["请在钱包中查看该交易：款项未到达商户地址。",
                  "钱包显示交易失败或已丢弃后可重新付款；仅消耗了网络手续费。",
                  "如钱包显示交易成功，请提供交易哈希联系客服。"]},
    "crypto_payment_unverified.not_yours": {
        "title": "该笔转账不能用于支付此订单：{verdict}",
        "detail": "{explanation}",
        "steps": ["请提供您为此订单所做转账的交易哈希（钱包的交易记录中可以看到日期和金额）。",
                  "如果您确认这笔转账就是为此订单支付的，请直接回复，客服会人工核实。"]},
    "crypto_payment_unverified.waiting": {
        "title": "链上付款尚未最终确认：{verdict}",
        "detail": "{explanation}",
        "steps": ["暂时无需操作：我们会持续复查，直到交易最终确认。",
                  "请勿重复付款。"]},
    "status_mismatch.paid_without_payment": {
        "title": "订单显示{status}，但没有成功的支付",
        "detail": "订单状态为 {status}，但其支付记录为：{payments}。",
        "steps": ["请提供订单号，我们将向支付机构核实付款。",
                  "请准备好支付凭证或银行流水。"]},
    "status_mismatch.unpaid_with_payment": {
        "title": "已有成功支付，但订单仍显示待支付",
        "detail": "支付 {payment_id} 已成功（{amount} {currency}），订单状态却是 {status}。",
        "steps": ["请提供订单号以便核实，我们会更正订单状态。"]},
    "status_mismatch.shipped_without_scan": {
        "title": "显示已发货 {hours} 小时，但承运商没有任何扫描记录",
        "detail": "{carrier} 自 {since} 登记运单 {tracking_number} 以来没有任何记录；通常间隔为 {gap_hours} 小时。",
        "steps": ["请提供订单号以便核实，我们会向仓库确认包裹是否已交接。",
                  "请明天再在承运商应用中查询运单号。"]},
    "status_mismatch.delivered_not_updated": {
        "title": "承运商已签收，但订单仍显示 {status}",
        "detail": "{carrier} 显示运单 {tracking_number} 于 {delivered_at} 签收。",
        "steps": ["请提供订单号以便核实，我们会更新订单状态。"]},
    "status_mismatch.event_after_delivery": {
        "title": "签收后承运商又报告了 {event_status}",
        "detail": "{carrier} 显示运单 {tracking_number} 于 {delivered_at} 签收，之后于 {event_at} 报告 {event_status}："
                  "{description}。",
        "steps": ["请确认包裹是否确实已送到您手中。",
                  "请提供订单号和运单号，我们会向承运商发起查询。"]},
    "not_shipped_yet": {
        "title": "付款后 {hours} 小时仍未发货",
        "detail": "付款时间 {paid_at}；订单通常在 {ship_within} 小时内发货。",
        "steps": ["订单正在备货，通常在付款后 {ship_within} 小时内发货。",
                  "如急需，请提供订单号联系客服。"]},
    "no_tracking_updates": {
        "title": "已有 {hours} 小时没有物流更新",
        "detail": "{carrier} 对运单 {tracking_number} 的最后一次扫描为 {status}（{last_event_at}）；"
                  "通常间隔为 {gap_hours} 小时。",
        "steps": ["请用运单号 {tracking_number} 查询物流详情。",
                  "请确认收货地址完整无误。",
                  "运输途中请联系承运商（{carrier}）；如确认丢失，请联系客服。"]},
    "delivery_exception": {
        "title": "承运商报告异常：{description}",
        "detail": "{carrier} 于 {event_at} 报告运单 {tracking_number} 异常（{raw_status}）。",
        "steps": ["请在物流页面查看运单 {tracking_number} 的承运商说明。",
                  "请联系承运商（{carrier}）处理（地址、清关、关税等）。",
                  "如包裹破损或丢失，请提供订单号联系客服：我们将补发或退款。"]},
    "failed_delivery_attempt": {
        "title": "{event_at} 派送未成功",
        "detail": "{carrier}：{description}",
        "steps": ["请与承运商（{carrier}）约定新的派送时间，或选择自提点。",
                  "请确认地址和电话正确，并确保有人签收。"]},
    "awaiting_pickup.station": {
        "title": "包裹自 {event_at} 起存放在{pickup_point}，请前往取件",
        "detail": "{carrier}：{description}",
        "steps": ["请到{pickup_point}取件 {pickup_directions}，出示承运商或驿站短信中的取件码或身份证件。",
                  "驿站和快递柜会在数天后退回无人领取的包裹；如不能亲自前往，可请他人凭取件码代取。",
                  "如驿站称没有该包裹，请提供运单号 {tracking_number} 联系客服。"]},
    "awaiting_pickup": {
        "title": "包裹自 {event_at} 起等待自提",
        "detail": "{carrier}：{description} {location}",
        "steps": ["请携带身份证件和承运商短信中的取件码取件。",
                  "自提点会在数天后退回无人领取的包裹。"]},
    "returned_to_sender": {
        "title": "包裹正在退回寄件人",
        "detail": "{carrier} 于 {event_at} 报告运单 {tracking_number}：{raw_status}。",
        "steps": ["请确认收货地址和电话。",
                  "请提供订单号联系客服，安排重新发货或退款。"]},
    "delivered_to_different_address.coordinates": {
        "title": "包裹签收位置距收货地址 {distance_km} 公里",
        "detail": "{carrier} 于 {delivered_at} 签收运单 {tracking_number}，签收位置距订单地址 {distance_km} 公里。",
        "steps": ["请询问邻居、楼宇前台，并查看附近的快递柜。",
                  "请凭运单号向承运商（{carrier}）索取签收凭证。",
                  "如 48 小时内仍未找到，请联系客服发起丢件理赔。"]},
    "delivered_to_different_address.text": {
        "title": "包裹签收地址与收货地址不同",
        "detail": "{carrier} 于 {delivered_at} 签收运单 {tracking_number}；与订单地址不同的部分：{fields}。",
        "steps": ["请询问邻居、楼宇前台，并查看附近的快递柜。",
                  "请凭运单号向承运商（{carrier}）索取签收凭证。",
                  "如 48 小时内仍未找到，请联系客服发起丢件理赔。"]},
    "delivered_but_reported_missing": {
        "title": "承运商显示已于 {delivered_at} 签收，客户称未收到",
        "detail": "工单 {ticket_id} 反映未收到包裹；{carrier} 显示运单 {tracking_number} 已签收。",
        "steps": ["请在派送地点附近查找，并询问家人和邻居。",
                  "请向承运商索取签收凭证（照片、签名、定位）。",
                  "如仍未找到，客服将为您申请补发或退款。"]},
    "wrong_item_reported": {
        "title": "客户反映收到的商品有误",
        "detail": "工单 {ticket_id}：{description}",
        "steps": ["请拍摄收到的商品、标签和包装的照片。",
                  "请保留包装和发票。",
                  "请申请换货或退货：发错商品免费退换，且不受退货期限制。"]},
    "return_window_open": {
        "title": "可退货至 {deadline}",
        "detail": "商品可在 {deadline} 前退货（自{counted_from}起 {window_days} 天）。",
        "steps": ["请在 {deadline} 前通过订单页面或客服申请退货。"]},
    "return_window_closed": {
        "title": "退货期已于 {deadline} 结束",
        "detail": "退货期已于 {deadline} 结束（自{counted_from}起 {window_days} 天）。",
        "steps": ["已无法无理由退货；发错或破损的商品仍可退换。"]},
    "ticket": {
        "paid": "已在 {chain} 上核实：{explanation} 支付 {payment_id} 已成功，订单已标记为已支付。",
        "waiting": "已在 {chain} 上核实：{explanation} 我们会自动复查，直到交易最终确认。",
        "not_paid": "已在 {chain} 上核实：{explanation}",
        "unknown": "暂时无法连接 {chain} 网络核实交易；我们会自动重试。",
        "rejected": "无法核实该交易：{detail}",
        "deadline": "交易在 {hours} 小时后仍未最终确认；客服将人工处理。",
        "reorg": "该交易在计入后又离开了链（重组）；支付已恢复为处理中。",
        "already_used": "这笔 {chain} 转账已经计入另一个订单，不能再用于支付此订单。",
        "before_order": "这笔 {chain} 转账发生在下单之前，不可能是此订单的付款。",
        "not_found_yet": "{chain} 网络上暂时查不到这笔交易；我们会持续复查一段时间（转账上链可能需要几分钟）。",
        "reorg_after_fulfilment": "支付 {payment_id} 在订单进入 {order_status} 之后离开了链：订单状态未回退；发货前请先核实该支付。",
        "reconcile_blocked": "链上结果为 {verdict}，但支付 {payment_id} 当前为 {status}：该变更不被允许，未做任何修改；请人工复核。",
        "no_merchant_address": "商家尚未配置 {chain} 上的收款地址，无法自动核对该转账；客服将人工核实。",
        "no_expectation": "没有可用于核对该交易的链上付款记录（代币和金额）；客服将人工处理。",
        "stalled": "运单 {tracking_number}（{carrier}）已有 {hours} 小时没有扫描记录；我们正在向承运商核实。",
    },
    "failure": {"insufficient_funds": "余额不足", "card_declined": "银行卡被拒", "expired": "支付已过期",
                "authentication_failed": "验证失败", "risk_control": "被风控拦截", "none": "未说明原因"},
    "counted_from": {"delivery": "签收", "placement": "下单"},
}

CATALOG: dict[str, dict[str, dict[str, Any]]] = {"en": EN, "zh-CN": ZH}

__all__ = ["CATALOG", "pick_language", "steps", "text", "word"]


def text(lang: str, key: str, field: str, params: dict[str, Any]) -> str:
    template = CATALOG[lang][key][field]
    return fill(str(template), params)


def steps(lang: str, key: str, params: dict[str, Any]) -> list[str]:
    return [fill(s, params) for s in CATALOG[lang][key].get("steps", [])]


def word(lang: str, group: str, value: str) -> str:
    return str(CATALOG[lang][group].get(value, value))
