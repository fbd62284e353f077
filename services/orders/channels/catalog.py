"""Every sentence the channels send to a customer, per language (`zh-CN`, `en`)."""

from __future__ import annotations

from typing import Any

from services.common.i18n import fill

MAILS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "ticket_ack": {
            "subject": "[{ticket_id}] We received your message",
            "body": ("Hello,\n\nthank you for writing to us. Your request is now ticket {ticket_id}; an agent will "
                     "answer you by e-mail.\n\nTo add anything, simply reply to this message and keep {ticket_id} in "
                     "the subject.\n\nYour subject: {subject}"),
        },
        "agent_reply": {
            "subject": "Re: [{ticket_id}] {subject}",
            "body": "{text}\n\n--\nTicket {ticket_id}. Reply to this message to answer us.",
        },
        "change_confirm": {
            "subject": "Confirm the change to your account",
            "body": ("Hello,\n\nsomeone (hopefully you) asked to change your account:\n{summary}\n\nTo confirm, open "
                     "this link before {expires_at} (it works once):\n{link}\n\nIf you did not ask for this, ignore "
                     "this message: nothing changes without your confirmation."),
        },
        "change_confirm_new": {
            "subject": "Confirm your new e-mail address",
            "body": ("Hello,\n\nthis address is to become the contact e-mail of an account with us. To confirm that it "
                     "is yours, open this link before {expires_at} (it works once):\n{link}\n\nIf you did not ask for "
                     "this, ignore this message."),
        },
        "change_notice_old": {
            "subject": "Your account's e-mail address was changed",
            "body": ("Hello,\n\nthe contact e-mail of your account was changed from {old} to {new} on {applied_at}. "
                     "If this was not you, answer this message or contact support at once."),
        },
    },
    "zh-CN": {
        "ticket_ack": {
            "subject": "[{ticket_id}] 我们已收到您的来信",
            "body": ("您好：\n\n感谢您的来信。您的问题已登记为工单 {ticket_id}，客服会通过邮件回复您。\n\n"
                     "如需补充信息，请直接回复本邮件，并保留主题中的 {ticket_id}。\n\n您的邮件主题：{subject}"),
        },
        "agent_reply": {
            "subject": "回复：[{ticket_id}] {subject}",
            "body": "{text}\n\n--\n工单 {ticket_id}。直接回复本邮件即可继续沟通。",
        },
        "change_confirm": {
            "subject": "请确认您的账户信息变更",
            "body": ("您好：\n\n有人（希望是您本人）申请修改您的账户信息：\n{summary}\n\n请在 {expires_at} 之前打开以下链接"
                     "确认（链接仅可使用一次）：\n{link}\n\n如果这不是您本人的操作，请忽略本邮件：未经您确认，信息不会被修改。"),
        },
        "change_confirm_new": {
            "subject": "请确认您的新邮箱地址",
            "body": ("您好：\n\n此邮箱将成为您账户的联系邮箱。请在 {expires_at} 之前打开以下链接，确认这是您的邮箱"
                     "（链接仅可使用一次）：\n{link}\n\n如果这不是您本人的操作，请忽略本邮件。"),
        },
        "change_notice_old": {
            "subject": "您账户的联系邮箱已更改",
            "body": ("您好：\n\n您账户的联系邮箱已于 {applied_at} 由 {old} 更改为 {new}。"
                     "如果这不是您本人的操作，请立即回复本邮件或联系客服。"),
        },
    },
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "field.email": "contact e-mail: {old} → {new}",
        "field.phone": "phone: {old} → {new}",
        "field.default_address": "default address: {old} → {new}",
        "field.shipping_address": "shipping address of order {order_number}: {old} → {new}",
        "refused.shipped": ("Order {order_number} has already shipped with {carrier} ({tracking_number}), so its "
                            "address can no longer be changed here. Ask {carrier} to redirect the parcel or to hold "
                            "it for pickup, quoting the tracking number; if it comes back to us we will re-send it "
                            "to the new address."),
        "password": ("Passwords are managed by the shop's sign-in service: use \"Forgot password\" on the sign-in "
                     "page. Support never asks for, sets or sends a password."),
        "inbound.linked": "Recognised in the e-mail: {refs}",
        "change.applied": "Account change {change_id} confirmed and applied: {summary}",
    },
    "zh-CN": {
        "field.email": "联系邮箱：{old} → {new}",
        "field.phone": "手机号：{old} → {new}",
        "field.default_address": "默认地址：{old} → {new}",
        "field.shipping_address": "订单 {order_number} 的收货地址：{old} → {new}",
        "refused.shipped": ("订单 {order_number} 已由 {carrier} 发出（运单号 {tracking_number}），无法再在这里修改地址。"
                            "请凭运单号联系 {carrier} 申请改派或转为自提；如果包裹退回，我们会按新地址重新发货。"),
        "password": "密码由商城的登录服务管理：请在登录页点击“忘记密码”自行重置。客服不会索取、设置或发送密码。",
        "inbound.linked": "邮件中识别到：{refs}",
        "change.applied": "账户变更 {change_id} 已确认并生效：{summary}",
    },
}


def mail(lang: str, template: str, params: dict[str, Any]) -> tuple[str, str]:
    """(subject, plain-text body) of a mail template in the customer's language."""
    entry = MAILS.get(lang, MAILS["en"])[template]
    return fill(entry["subject"], params), fill(entry["body"], params)


def text(lang: str, key: str, params: dict[str, Any]) -> str:
    return fill(TEXTS.get(lang, TEXTS["en"])[key], params)
