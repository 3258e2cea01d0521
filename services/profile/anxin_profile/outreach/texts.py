"""Template variables and rendering.

A template names its variables as `{name}` and declares them; only the known
variables below exist, each filled by the system (never typed by an operator),
so a message carries no free text. A body that holds an unmasked number (a
mobile, an ID or a card number, as `anxin_shared.masking` detects them) is
refused, and a rendered text is checked again before it is sent.
"""

from __future__ import annotations

import string

from anxin_shared.errors import ValidationFailed
from anxin_shared.masking import mask_free_text

KNOWN_VARIABLES: dict[str, str] = {
    "customer_name": "the customer's name, masked (陈*)",
    "brand": "the subsidiary's brand (安信人寿)",
    "hotline": "the official hotline",
    "event_time": "when a fraud signal happened (local time)",
    "event_kind": "what happened, in words",
}
SIGNAL_WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "voiceprint_watchlist": "来电声纹与已知诈骗分子相符",
        "verification_lockout": "多次身份验证失败，验证已锁定",
        "spoofed_ani": "来电号码疑似伪冒您的登记号码",
    },
    "en": {
        "voiceprint_watchlist": "the caller's voice matched a known fraudster",
        "verification_lockout": "repeated failed verification locked the account",
        "spoofed_ani": "the calling number appeared to spoof your registered number",
    },
}
BRANDS: dict[str, dict[str, str]] = {
    "zh-CN": {"life": "安信人寿", "pc": "安信财险", "bank": "安信银行"},
    "en": {"life": "Anxin Life", "pc": "Anxin P&C", "bank": "Anxin Bank"},
}


def placeholders(body: str) -> list[str]:
    """The `{name}` placeholders of a body; a malformed or formatted one is refused."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise ValidationFailed("the body has an unbalanced brace", field="body") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValidationFailed("a placeholder is a plain {name}", field="body")
        names.append(name)
    return names


def has_unmasked_number(text: str) -> bool:
    """Whether a text holds a mobile, ID or card number in the clear."""
    return mask_free_text(text) != text


def check_template(body: str, title: str | None, declared: list[str]) -> None:
    """Refuse unknown or undeclared variables and unmasked numbers (422, naming them)."""
    unknown = sorted(set(declared) - set(KNOWN_VARIABLES))
    if unknown:
        raise ValidationFailed(
            "unknown template variables: " + ", ".join(unknown),
            field="variables",
            unknown_variables=unknown,
            known_variables=sorted(KNOWN_VARIABLES),
        )
    used = placeholders(body) + placeholders(title or "")
    undeclared = sorted(set(used) - set(declared))
    if undeclared:
        raise ValidationFailed(
            "the body uses variables it does not declare: " + ", ".join(undeclared),
            field="body",
            unknown_variables=undeclared,
        )
    for field, text in (("body", body), ("title", title or "")):
        if has_unmasked_number(text):
            raise ValidationFailed(
                f"the {field} contains an unmasked mobile, ID or card number", field=field
            )


def render(body: str, variables: dict[str, str]) -> str:
    """The text of a body with its variables filled in."""
    return body.format_map({name: variables.get(name, "") for name in placeholders(body)})
