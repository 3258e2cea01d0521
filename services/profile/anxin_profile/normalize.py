"""Normalising what people type: full-width characters, spaces, dashes, case, date formats."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—－_.·/]")
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9][0-9]{9})")
_DATE_PARTS = re.compile(r"^([0-9]{4})[^0-9]+([0-9]{1,2})[^0-9]+([0-9]{1,2})[^0-9]*$")
_DATE_COMPACT = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")


def fold(value: str) -> str:
    """NFKC (full-width digits and letters to ASCII), trimmed, upper-case."""
    return unicodedata.normalize("NFKC", value).strip().upper()


def compact(value: str) -> str:
    """Folded, without spaces, dashes, dots, slashes or underscores."""
    return _SEPARATORS.sub("", fold(value))


def mobile_key(value: str) -> str | None:
    """A mainland mobile number as 11 digits (country code dropped), or None."""
    digits = re.sub(r"[\s\-()（）]", "", fold(value))
    match = _MOBILE.fullmatch(digits)
    return match.group(1) if match else None


def number_key(value: str) -> str:
    """A phone number for matching: the 11-digit mobile if it is one, else its digits."""
    return mobile_key(value) or re.sub(r"[^0-9+]", "", fold(value))


def device_key(value: str) -> str:
    """A device id or app account for matching: folded, whitespace removed."""
    return re.sub(r"\s", "", fold(value))


def parse_date(value: str) -> date | None:
    """A date typed as 1985-03-14, 1985/3/14, 1985.03.14, 19850314 or 1985年3月14日."""
    text = fold(value).replace(" ", "")
    match = _DATE_COMPACT.fullmatch(text) or _DATE_PARTS.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
