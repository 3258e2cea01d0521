"""Demo templates (dev): security tips, a fraud-case story, fraud alerts, call-center scripts.

Running it again adds nothing.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session

from anxin_profile.outreach.models import OutreachTemplate
from anxin_profile.outreach.texts import check_template, placeholders

# (id, purpose, channel, language, segment, title, body)
DEMO_TEMPLATES: tuple[tuple[str, str, str, str, str | None, str | None, str], ...] = (
    (
        "tpl-edu-sms-zh",
        "security_education",
        "sms",
        "zh-CN",
        None,
        None,
        "【{brand}】安全提示：{customer_name}您好，我司工作人员不会以任何理由索要您的短信验证码、"
        "密码或要求转账。如有疑问，请致电官方客服{hotline}。",
    ),
    (
        "tpl-edu-sms-en",
        "security_education",
        "sms",
        "en",
        None,
        None,
        "[{brand}] Security tip: we never ask for your one-time code or password, and never ask"
        " you to transfer money. In doubt, call our official hotline {hotline}.",
    ),
    (
        "tpl-edu-push-case-zh",
        "security_education",
        "app_push",
        "zh-CN",
        None,
        "防诈骗案例",
        "近期有不法分子冒充{brand}客服，以“退保返现”“理赔加急”为由诱导客户提供验证码并转账。"
        "请牢记：官方不会索要验证码，请只通过{hotline}核实。",
    ),
    (
        "tpl-alert-sms-zh",
        "fraud_alert",
        "sms",
        "zh-CN",
        None,
        None,
        "【{brand}】安全提醒：{customer_name}您好，{event_time}有人试图以您的身份联系我司"
        "（{event_kind}），我们已拒绝。如非本人操作，请勿透露任何验证码，并致电{hotline}。",
    ),
    (
        "tpl-alert-push-zh",
        "fraud_alert",
        "app_push",
        "zh-CN",
        None,
        "账户安全提醒",
        "{event_time}有人试图以您的身份联系我司（{event_kind}），我们已拒绝。"
        "如有疑问请致电{hotline}。",
    ),
    (
        "tpl-script-all-zh",
        "security_education",
        "call_script",
        "zh-CN",
        None,
        None,
        "温馨提示：我们不会在电话中索要您的验证码或密码；如接到自称{brand}工作人员的可疑来电，"
        "请挂断后拨打{hotline}核实。",
    ),
    (
        "tpl-script-platinum-zh",
        "security_education",
        "call_script",
        "zh-CN",
        "platinum",
        None,
        "尊敬的贵宾客户：近期有人冒充专属客户经理，以“升级权益”为由索要验证码。"
        "专属经理不会索要验证码，如有疑问请拨打{hotline}。",
    ),
    (
        "tpl-script-dormant-zh",
        "security_education",
        "call_script",
        "zh-CN",
        "dormant",
        None,
        "温馨提示：长期未使用的账户易被冒用，如不再使用可申请注销；我们不会索要您的验证码。",
    ),
)


def seed_templates(session: Session, now: datetime) -> int:
    """Insert the demo templates that are missing; return how many were added."""
    added = 0
    for template_id, purpose, channel, language, segment, title, body in DEMO_TEMPLATES:
        if session.get(OutreachTemplate, template_id) is not None:
            continue
        variables = sorted(set(placeholders(body) + placeholders(title or "")))
        check_template(body, title, variables)
        session.add(
            OutreachTemplate(
                template_id=template_id,
                purpose=purpose,
                channel=channel,
                language=language,
                segment=segment,
                title=title,
                body=body,
                variables=json.dumps(variables),
                created_by="system",
                created_at=now,
            )
        )
        added += 1
    session.flush()
    return added
