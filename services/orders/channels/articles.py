# ruff: noqa: E501  (article text)
"""The help center's articles, written for this shop's topics, in zh-CN and en. `keywords` are the words
customers actually use for the topic (searched with the title and body)."""

from __future__ import annotations

from typing import Any

ARTICLES: list[dict[str, Any]] = [
    {
        "id": "payment-failed-or-unpaid",
        "topic": "payments",
        "en": {
            "title": "I paid but the order still says unpaid",
            "keywords": "payment failed unpaid paid charged declined card alipay wechat pay pending order status payment not showing",
            "body": ("Card, Alipay and WeChat Pay payments usually show within minutes. If your bank or wallet shows the "
                     "money as taken but the order still says unpaid, the payment may still be pending with the payment "
                     "provider: wait 30 minutes and refresh. If the provider declined it (insufficient funds, card "
                     "declined, expired), nothing was charged and you can pay again from the order page. Still stuck? "
                     "Open a ticket of type payment_failed with your order number; for a crypto payment add the "
                     "transaction hash and the chain."),
        },
        "zh-CN": {
            "title": "已付款但订单仍显示未支付",
            "keywords": "付款 支付 已付款 未支付 扣款 扣钱 付款失败 支付失败 银行卡 支付宝 微信支付 订单状态 没更新 显示未付款",
            "body": ("银行卡、支付宝、微信支付的付款通常几分钟内到账。如果银行或钱包显示已扣款但订单仍显示未支付，"
                     "可能是支付机构还在处理：请等待 30 分钟后刷新。如果支付被拒（余额不足、卡被拒、已过期），"
                     "不会扣款，您可以在订单页重新付款。仍未解决，请提交“付款失败”工单并写上订单号；"
                     "加密货币付款请同时提供交易哈希和所在链。"),
        },
    },
    {
        "id": "wallet-transfer-not-arrived",
        "topic": "wallet_transfers",
        "en": {
            "title": "My crypto transfer has not arrived",
            "keywords": "usdt usdc trc20 erc20 bep20 tron eth bsc crypto transfer tx hash transaction pending confirmations wallet not arrived stuck wrong network",
            "body": ("A transfer is credited after the chain confirms it (TRON about 1 minute, Ethereum a few minutes, "
                     "BSC under a minute). Look the transaction hash up in a block explorer: pending means wait; failed "
                     "means the money did not leave your wallet. Check that you sent the right token (USDT, not TRX) on "
                     "the right network (TRC20 vs ERC20 vs BEP20) to the address shown at checkout, and the full amount: "
                     "network fees are paid on top. Send us the transaction hash and the chain in a ticket and we check "
                     "it on chain for you."),
        },
        "zh-CN": {
            "title": "加密货币转账一直没到账",
            "keywords": "USDT USDC TRC20 ERC20 BEP20 波场 以太坊 币安 转账 到账 没到账 未到账 交易哈希 哈希 链上 确认数 钱包 转错 网络",
            "body": ("转账需要链上确认后才会入账（波场约 1 分钟，以太坊几分钟，BSC 不到 1 分钟）。请在区块浏览器中"
                     "查询交易哈希：显示处理中请耐心等待；显示失败说明资金没有离开您的钱包。请确认币种正确（USDT 而不是 "
                     "TRX）、网络正确（TRC20、ERC20、BEP20 不能混用）、收款地址是结账页显示的地址，且金额足额（手续费需另付）。"
                     "请在工单中提供交易哈希和所在链，我们会在链上为您核实。"),
        },
    },
    {
        "id": "parcel-not-received",
        "topic": "missing_parcels",
        "en": {
            "title": "My parcel has not arrived, or says delivered but I do not have it",
            "keywords": "parcel package not received missing lost never arrived where is my order delivered but not received tracking stuck courier",
            "body": ("Check the tracking page first: if there has been no scan for several days, the carrier may have "
                     "delayed it and we can ask them. If it says delivered but you have nothing, check with neighbours, "
                     "your building's reception, parcel lockers and pickup stations, and whether someone signed for it. "
                     "Still missing after 24 hours? Open a not_received ticket with your order number: we ask the "
                     "carrier for the proof of delivery and compare where it was delivered with your address."),
        },
        "zh-CN": {
            "title": "包裹未收到，或显示已签收但没拿到",
            "keywords": "包裹 在哪 哪里 到哪了 快递 订单 未收到 没收到 没有收到 收不到 丢件 丢失 签收 已签收 没拿到 物流 不更新 快递员 驿站 快递柜",
            "body": ("请先查看物流信息：如果连续几天没有更新，可能是快递延误，我们可以帮您联系快递公司。"
                     "如果显示已签收但您没有收到，请先询问邻居、物业前台，查看快递柜和驿站，以及是否有人代签。"
                     "24 小时后仍未找到，请提交“未收到”工单并写上订单号：我们会向快递公司索取签收凭证，"
                     "并核对签收位置与您的地址。"),
        },
    },
    {
        "id": "returns-and-refunds",
        "topic": "returns",
        "en": {
            "title": "How to return an item and get a refund",
            "keywords": "return refund exchange send back wrong item damaged broken changed my mind return window money back",
            "body": ("Electronics can be returned within 7 days of delivery, clothing within 30, home goods within 15 "
                     "(a wrong or damaged item at any time within the window, even if opened). Ask for the return from "
                     "the order page or in a ticket; once approved, send it back with the label we give you. The refund "
                     "goes back the way you paid: card to card, Alipay to Alipay, crypto to the sending address on the "
                     "same chain and token. Digital goods, gift cards and perishables cannot be returned."),
        },
        "zh-CN": {
            "title": "如何退货退款",
            "keywords": "退货 退款 换货 退回 寄回 发错 错发 损坏 坏了 不想要 七天无理由 退货期限 退钱",
            "body": ("电子产品签收后 7 天内可退，服装 30 天，家居用品 15 天（发错或损坏的商品在期限内拆封也可退）。"
                     "请在订单页或工单中申请退货；审核通过后，使用我们提供的面单寄回。退款按原路返回：银行卡退回银行卡，"
                     "支付宝退回支付宝，加密货币退回原付款地址（同一条链、同一币种）。数字商品、礼品卡和生鲜不支持退货。"),
        },
    },
    {
        "id": "change-account-details",
        "topic": "account_changes",
        "en": {
            "title": "Change my e-mail, phone number or delivery address",
            "keywords": "change update email e-mail phone number address delivery address shipping address account details password",
            "body": ("You can change your contact e-mail, phone number, default address and the delivery address of "
                     "orders that have not shipped yet. We send a confirmation link to the e-mail address on file (and "
                     "to the new address when you change your e-mail); nothing changes until you open it, and it works "
                     "once. Once a parcel has shipped, ask the carrier to redirect it with your tracking number. "
                     "Passwords: use \"Forgot password\" on the sign-in page; support never asks for your password."),
        },
        "zh-CN": {
            "title": "修改邮箱、手机号或收货地址",
            "keywords": "修改 更改 换 邮箱 手机号 电话 收货地址 地址 改地址 默认地址 账户信息 密码",
            "body": ("您可以修改联系邮箱、手机号、默认地址，以及尚未发货订单的收货地址。我们会向您账户登记的邮箱发送确认链接"
                     "（修改邮箱时新邮箱也会收到），打开链接确认后才会生效，链接仅可使用一次。包裹发出后，请凭运单号联系快递公司改派。"
                     "密码请在登录页点击“忘记密码”自行重置；客服不会索要您的密码。"),
        },
    },
    {
        "id": "device-connection-problems",
        "topic": "tech_support",
        "en": {
            "title": "The hardware wallet does not connect or the app crashes",
            "keywords": "hardware wallet device connect connection bluetooth usb pairing app crash firmware update not working screen",
            "body": ("Update the app and the device firmware first. For Bluetooth: turn Bluetooth off and on, forget the "
                     "device in your phone's settings and pair again within 30 cm. For USB: use a data cable and another "
                     "port. If the app crashes, send us the app version, your phone model and a screenshot or short "
                     "video in a tech_support ticket."),
        },
        "zh-CN": {
            "title": "硬件钱包连接不上或 App 闪退",
            "keywords": "硬件钱包 设备 连接 连不上 无法连接 蓝牙 配对 数据线 App 闪退 崩溃 固件 升级 故障 屏幕",
            "body": ("请先更新 App 和设备固件。蓝牙连接：关闭再打开蓝牙，在手机设置中忽略该设备后，在 30 厘米内重新配对。"
                     "USB 连接：请使用数据线并换一个接口。如果 App 闪退，请在技术支持工单中提供 App 版本、手机型号，"
                     "以及截图或短视频。"),
        },
    },
]
