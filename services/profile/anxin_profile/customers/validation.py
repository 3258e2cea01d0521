"""Data quality at the source: every field of a new or changed customer is checked.

All problems are collected, so one 422 lists every bad field. Reasons name the
rule that failed, never the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from anxin_profile.demo_data import (
    LIFECYCLE_STAGES,
    VALUE_TIERS,
    gb11643_check_char,
    is_luhn_valid,
    is_valid_mobile,
)
from anxin_profile.normalize import compact, fold, mobile_key

ID_TYPES = ("resident_id", "passport")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_CARD = re.compile(r"[0-9]{16,19}")
_POLICY = re.compile(r"(LP|PC)(20[0-9]{2})[0-9]{10}")
_POSTCODE = re.compile(r"[0-8][0-9]{5}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


@dataclass(frozen=True)
class FieldProblem:
    """One bad field and why (never its value)."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"field": self.field, "reason": self.reason}


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Fold full-width characters, spaces and dashes out of the number fields."""
    out = dict(data)
    for key in ("id_number", "bank_account", "policy_number", "postcode"):
        if isinstance(out.get(key), str):
            out[key] = compact(out[key]) or None
    if isinstance(out.get("mobile"), str):
        out["mobile"] = mobile_key(out["mobile"]) or compact(out["mobile"])
    if isinstance(out.get("name"), str):
        out["name"] = out["name"].strip()
    if isinstance(out.get("gender"), str):
        out["gender"] = fold(out["gender"])
    return out


def id_number_problems(id_number: str, birth_date: date | None, gender: str | None) -> list[str]:
    """Why a resident ID is bad: shape, GB 11643 check character, birth date, gender."""
    if _ID_SHAPE.fullmatch(id_number) is None:
        return ["must be 17 digits and a check character (0-9 or X)"]
    if gb11643_check_char(id_number[:17]) != id_number[17]:
        return ["the GB 11643 check character is wrong"]
    problems = []
    try:
        embedded = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return ["the embedded birth date is not a date"]
    if birth_date is not None and embedded != birth_date:
        problems.append("does not agree with birth_date")
    if gender in ("M", "F") and ("M" if int(id_number[16]) % 2 else "F") != gender:
        problems.append("does not agree with gender")
    return problems


def _birth_date(value: Any, problems: list[FieldProblem], today: date) -> date | None:
    if isinstance(value, date):
        parsed: date | None = value
    else:
        try:
            parsed = date.fromisoformat(str(value))
        except ValueError:
            problems.append(FieldProblem("birth_date", "must be an ISO date (YYYY-MM-DD)"))
            return None
    if parsed is not None and not date(1900, 1, 1) <= parsed <= today:
        problems.append(FieldProblem("birth_date", "must be between 1900-01-01 and today"))
        return None
    return parsed


def validate(data: dict[str, Any], today: date, subsidiary: str) -> list[FieldProblem]:
    """Every problem of a complete customer record (already normalised)."""
    problems: list[FieldProblem] = []
    name = data.get("name")
    if not name or len(name) > 64:
        problems.append(FieldProblem("name", "must be 1-64 characters"))
    gender = data.get("gender")
    if gender not in ("M", "F"):
        problems.append(FieldProblem("gender", "must be M or F"))
    birth = _birth_date(data.get("birth_date"), problems, today)
    id_type = data.get("id_type")
    id_number = data.get("id_number") or ""
    if id_type not in ID_TYPES:
        problems.append(FieldProblem("id_type", f"must be one of {', '.join(ID_TYPES)}"))
    elif id_type == "resident_id":
        problems.extend(
            FieldProblem("id_number", reason)
            for reason in id_number_problems(id_number, birth, gender)
        )
    elif _PASSPORT.fullmatch(id_number) is None:
        problems.append(FieldProblem("id_number", "must be 5-17 letters or digits"))
    if not is_valid_mobile(data.get("mobile") or ""):
        problems.append(FieldProblem("mobile", "must be an 11-digit mainland mobile number"))
    email = data.get("email")
    if email and (len(email) > 128 or _EMAIL.fullmatch(email) is None):
        problems.append(
            FieldProblem("email", "must be an e-mail address of at most 128 characters")
        )
    card = data.get("bank_account")
    if card and (_CARD.fullmatch(card) is None or not is_luhn_valid(card)):
        problems.append(FieldProblem("bank_account", "must be 16-19 digits passing the Luhn check"))
    policy = data.get("policy_number")
    if policy:
        expected = {"life": "LP", "pc": "PC"}.get(subsidiary)
        if _POLICY.fullmatch(policy) is None:
            problems.append(
                FieldProblem("policy_number", "must be LP or PC, a year 20xx and 10 digits")
            )
        elif expected is None or not policy.startswith(expected):
            problems.append(FieldProblem("policy_number", "prefix does not match the subsidiary"))
    postcode = data.get("postcode")
    if postcode and _POSTCODE.fullmatch(postcode) is None:
        problems.append(FieldProblem("postcode", "must be 6 digits (first digit 0-8)"))
    address = data.get("address")
    if address is not None and len(address) > 256:
        problems.append(FieldProblem("address", "must be at most 256 characters"))
    if data.get("value_tier") not in VALUE_TIERS:
        problems.append(FieldProblem("value_tier", f"must be one of {', '.join(VALUE_TIERS)}"))
    if data.get("lifecycle_stage") not in LIFECYCLE_STAGES:
        problems.append(
            FieldProblem("lifecycle_stage", f"must be one of {', '.join(LIFECYCLE_STAGES)}")
        )
    return problems
