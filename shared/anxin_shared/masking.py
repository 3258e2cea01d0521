"""Masking of Chinese customer identifiers for API responses and log scrubbing.

Fail-closed rule: every mask function either recognises its expected format and
applies the documented mask, or it falls back to replacing every character with
``*`` except at most the last two (values shorter than six characters are fully
starred).  No mask function returns an input that holds a full identifier
unchanged, and :func:`apply_view` raises :class:`ValueError` for an unknown view
or mask rule instead of returning the plain value.  Error messages never quote
the value being masked.

Full-width digits (``０``-``９``), ``Ｘ`` and ``＋`` are treated like their ASCII
forms, because call-centre transcripts typed with a Chinese IME often contain them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "MASKS",
    "apply_view",
    "mask_address",
    "mask_bank_card",
    "mask_date",
    "mask_email",
    "mask_free_text",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
    "mask_policy_number",
    "redact",
]

_VIEWS = frozenset({"plain", "masked", "hidden"})

_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ＋", "0123456789XX+")
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—－]")

_MOBILE = re.compile(r"(?:(?:\+|00)?86)?(1[3-9][0-9]{9})")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_BANK_CARD = re.compile(r"[0-9]{16,19}")
_POLICY_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9/\-]{8,}[A-Za-z0-9]")
_EMAIL = re.compile(r"([^@\s]+)@([^@\s.]+(?:\.[^@\s.]+)+)")
_ISO_DATE = re.compile(r"([0-9]{4})-[0-9]{2}-[0-9]{2}")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_CHINESE_NAME = re.compile(f"[{_HAN}]+(?:[·•・．.][{_HAN}]+)*")
_LETTER_NAME = re.compile(r"[^\W\d_]+(?:[ .'\-]+[^\W\d_]+)*\.?")

# Identifiers embedded in free text.  Chinese has no word boundaries, so the
# patterns are delimited by "no digit before / after" lookarounds, not ``\b``.
_DIGIT = "[0-9０-９]"
_NO_DIGIT_BEFORE = "(?<![0-9０-９])"
_NO_DIGIT_AFTER = "(?![0-9０-９])"
_OPT_SEP = "[ \\-]?"
_ID_IN_TEXT = re.compile(
    f"{_NO_DIGIT_BEFORE}{_DIGIT}{{6}}{_OPT_SEP}{_DIGIT}{{8}}{_OPT_SEP}{_DIGIT}{{3}}"
    f"[0-9０-９XxＸｘ]{_NO_DIGIT_AFTER}"
)
_CARD_IN_TEXT = re.compile(
    f"{_NO_DIGIT_BEFORE}{_DIGIT}{{4}}(?:{_OPT_SEP}{_DIGIT}{{4}}){{3}}"
    f"(?:{_OPT_SEP}{_DIGIT}{{1,3}})?{_NO_DIGIT_AFTER}"
)
_MOBILE_IN_TEXT = re.compile(
    f"{_NO_DIGIT_BEFORE}(?:(?:[+＋]|00)?86{_OPT_SEP})?[1１][3-9３-９]{_DIGIT}"
    f"(?:{_OPT_SEP}{_DIGIT}{{4}}){{2}}{_NO_DIGIT_AFTER}"
)

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK_CHARS = "10X98765432"


def _fallback(value: str) -> str:
    """Star everything but at most the last two characters (all of it if short)."""
    keep = 2 if len(value) >= 6 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep :]


def _compact(value: str) -> str:
    """Fold full-width digits to ASCII and drop whitespace and dashes."""
    return _SEPARATORS.sub("", value.translate(_FULLWIDTH))


def _has_valid_id_checksum(value: str) -> bool:
    """Whether an 18-character ID number has a correct GB 11643 check character."""
    pairs = zip(value[:17], _GB11643_WEIGHTS, strict=True)
    total = sum(int(digit) * weight for digit, weight in pairs)
    return _GB11643_CHECK_CHARS[total % 11] == value[17]


def mask_mobile(value: str) -> str:
    """Mask a Chinese mobile number to ``138****5678`` (country prefix dropped)."""
    match = _MOBILE.fullmatch(_compact(value))
    if match is None:
        return _fallback(value.strip())
    digits = match.group(1)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id_number(value: str) -> str:
    """Mask an 18-character resident ID to its first 3 and last 4 characters."""
    compact = _compact(value).upper()
    if _ID_NUMBER.fullmatch(compact) is None:
        return _fallback(value.strip())
    return compact[:3] + "*" * 11 + compact[-4:]


def mask_bank_card(value: str) -> str:
    """Mask a 16-19 digit card number to its last 4 digits, keeping its length."""
    compact = _compact(value)
    if _BANK_CARD.fullmatch(compact) is None:
        return _fallback(value.strip())
    return "*" * (len(compact) - 4) + compact[-4:]


def mask_policy_number(value: str) -> str:
    """Mask a policy number to its first 2 and last 4 characters."""
    stripped = value.strip()
    if _POLICY_NUMBER.fullmatch(stripped) is None:
        return _fallback(stripped)
    return stripped[:2] + "*" * (len(stripped) - 6) + stripped[-4:]


def mask_email(value: str) -> str:
    """Mask an e-mail address to ``z***@example.com``."""
    stripped = value.strip()
    match = _EMAIL.fullmatch(stripped)
    if match is None:
        return _fallback(stripped)
    return f"{match.group(1)[0]}***@{match.group(2)}"


def mask_name(value: str) -> str:
    """Mask a name: ``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``, ``Smith`` → ``S***``."""
    stripped = value.strip()
    if _CHINESE_NAME.fullmatch(stripped) is not None:
        if len(stripped) == 1:
            return "*"
        return stripped[0] + "*" * (len(stripped) - 1)
    if _LETTER_NAME.fullmatch(stripped) is not None:
        return stripped[0] + "***"
    return _fallback(stripped)


def mask_address(value: str) -> str:
    """Mask an address to its first 6 characters followed by ``****``."""
    stripped = value.strip()
    if len(stripped) <= 6:
        return _fallback(stripped)
    return stripped[:6] + "****"


def mask_date(value: str) -> str:
    """Mask an ISO date to its year: ``1985-03-14`` → ``1985-**-**``."""
    stripped = value.strip()
    match = _ISO_DATE.fullmatch(stripped)
    if match is None:
        return _fallback(stripped)
    return f"{match.group(1)}-**-**"


def _mask_id_in_text(match: re.Match[str]) -> str:
    """Mask an 18-character run as an ID, or as a card when its checksum says it is none."""
    compact = _compact(match.group(0)).upper()
    if compact.endswith("X") or _has_valid_id_checksum(compact):
        return mask_id_number(compact)
    return mask_bank_card(compact)


def mask_free_text(text: str) -> str:
    """Mask ID numbers, bank-card numbers and mobile numbers embedded in free text."""
    text = _ID_IN_TEXT.sub(_mask_id_in_text, text)
    text = _CARD_IN_TEXT.sub(lambda match: mask_bank_card(match.group(0)), text)
    return _MOBILE_IN_TEXT.sub(lambda match: mask_mobile(match.group(0)), text)


def redact(value: object) -> str:
    """Replace any value with ``***``."""
    return "***"


MASKS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "mobile": mask_mobile,
    "id_number": mask_id_number,
    "bank_card": mask_bank_card,
    "policy_number": mask_policy_number,
    "email": mask_email,
    "address": mask_address,
    "date": mask_date,
    "free_text": mask_free_text,
    "redact": redact,
}


def apply_view(value: str | None, mask_rule: str, view: str) -> str | None:
    """Render a value for a ``plain``, ``masked`` or ``hidden`` view; fail closed."""
    if view not in _VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {sorted(_VIEWS)}")
    mask = MASKS.get(mask_rule)
    if mask is None:
        raise ValueError(f"unknown mask rule {mask_rule!r}; expected one of {sorted(MASKS)}")
    if value is None or view == "hidden":
        return None
    if view == "plain":
        return value
    return mask(value if isinstance(value, str) else str(value))
