"""Tests for anxin_shared.masking."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anxin_shared import masking
from anxin_shared.masking import (
    MASKS,
    apply_view,
    mask_address,
    mask_bank_card,
    mask_date,
    mask_email,
    mask_free_text,
    mask_id_number,
    mask_mobile,
    mask_name,
    mask_policy_number,
    redact,
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_check_char(first17: str) -> str:
    """GB 11643 check character, computed independently of the module under test."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


# A real, checksum-valid resident ID (synthetic person) used in examples.
VALID_ID = "11010519491231002X"
assert _id_check_char(VALID_ID[:17]) == VALID_ID[17]
VALID_ID_DIGIT = "110101199003074477"
assert _id_check_char(VALID_ID_DIGIT[:17]) == VALID_ID_DIGIT[17]

# --------------------------------------------------------------------------- strategies

mobiles = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
id_numbers = st.text(alphabet="0123456789", min_size=17, max_size=17).map(
    lambda first17: first17 + _id_check_char(first17)
)
bank_cards = st.integers(min_value=16, max_value=19).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
)
# Filler between identifiers in free text: Chinese characters and punctuation, no digits.
chinese_filler = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from("，。：；！？、（）“”"),
    ),
    min_size=1,
    max_size=12,
)


# --------------------------------------------------------------------------- mobile


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "8613812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
        " 13812345678 ",
        "１３８１２３４５６７８",
        "008613812345678",
    ],
)
def test_mask_mobile_formats(raw: str) -> None:
    assert mask_mobile(raw) == "138****5678"


@pytest.mark.parametrize(
    "raw", ["12812345678", "1381234567", "138123456789", "hello", "电话13812345678"]
)
def test_mask_mobile_falls_back_on_unexpected_input(raw: str) -> None:
    masked = mask_mobile(raw)
    assert masked != raw
    assert "13812345678" not in masked
    assert set(masked[:-2]) == {"*"}


@given(mobiles)
def test_mask_mobile_property(mobile: str) -> None:
    masked = mask_mobile(mobile)
    assert mobile not in masked
    assert masked == mobile[:3] + "****" + mobile[-4:]
    assert mask_mobile("+86 " + mobile) == masked


# --------------------------------------------------------------------------- ID number


def test_mask_id_number_examples() -> None:
    assert mask_id_number(VALID_ID) == "110***********002X"
    assert mask_id_number(VALID_ID.lower()) == "110***********002X"
    assert mask_id_number("110105 19491231 002X") == "110***********002X"
    assert mask_id_number(VALID_ID_DIGIT) == "110***********4477"
    assert len(mask_id_number(VALID_ID)) == 18


@pytest.mark.parametrize("raw", ["110105194912310", "11010519491231002Y", "ABC", ""])
def test_mask_id_number_falls_back(raw: str) -> None:
    masked = mask_id_number(raw)
    assert len(masked) == len(raw)
    if raw:
        assert masked != raw
    assert masked[:-2].strip("*") == ""


@given(id_numbers)
def test_mask_id_number_property(id_number: str) -> None:
    masked = mask_id_number(id_number)
    assert id_number not in masked
    assert len(masked) == 18
    assert masked[:3] == id_number[:3]
    assert masked[-4:] == id_number[-4:]
    assert masked[3:14] == "*" * 11


# --------------------------------------------------------------------------- bank card


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6222021234567890", "************7890"),
        ("6222021234567890123", "***************0123"),
        ("6222 0212 3456 7890 123", "***************0123"),
        ("6222-0212-3456-7890", "************7890"),
    ],
)
def test_mask_bank_card_examples(raw: str, expected: str) -> None:
    assert mask_bank_card(raw) == expected


@pytest.mark.parametrize("raw", ["622202123456789", "62220212345678901234", "card", "1234"])
def test_mask_bank_card_falls_back(raw: str) -> None:
    masked = mask_bank_card(raw)
    assert masked != raw
    assert masked[:-2].strip("*") == ""


@given(bank_cards)
def test_mask_bank_card_property(card: str) -> None:
    masked = mask_bank_card(card)
    assert card not in masked
    assert len(masked) == len(card)
    assert masked == "*" * (len(card) - 4) + card[-4:]


# --------------------------------------------------------------------------- other fields


def test_mask_policy_number() -> None:
    assert mask_policy_number("LP20240101000123") == "LP**********0123"
    assert mask_policy_number("PC20230615009876") == "PC**********9876"
    assert mask_policy_number(" LP20240101000123 ") == "LP**********0123"
    # Too short to keep 6 characters visible: fall back.
    assert mask_policy_number("LP1234") == "****34"
    assert mask_policy_number("LP12") == "****"
    assert mask_policy_number("保单LP20240101000123") == "****************23"


def test_mask_email() -> None:
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_email("Li.Wei+cc@mail.example.cn") == "L***@mail.example.cn"
    assert mask_email("not-an-email") == "**********il"
    assert mask_email("a@b") == "***"
    assert mask_email("x@@example.com") == "************om"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张*"),
        ("李小龙", "李**"),
        ("欧阳娜娜", "欧***"),
        ("买买提·艾力", "买*****"),
        ("王", "*"),
        (" 张三 ", "张*"),
        ("John Smith", "J***"),
        ("o'neil", "o***"),
        ("R2D2", "****"),
        ("13812345678", "*********78"),
    ],
)
def test_mask_name(raw: str, expected: str) -> None:
    assert mask_name(raw) == expected


def test_mask_address() -> None:
    assert mask_address("北京市东城区王府井大街1号") == "北京市东城区****"
    assert mask_address("上海市徐汇区漕溪北路88号3栋1202室") == "上海市徐汇区****"
    assert mask_address("东城区") == "***"
    assert mask_address("北京市东城区") == "****城区"


def test_mask_date() -> None:
    assert mask_date("1985-03-14") == "1985-**-**"
    assert mask_date(" 2001-12-01 ") == "2001-**-**"
    assert mask_date("19850314") == "******14"
    assert mask_date("14/03/1985") == "********85"


def test_redact() -> None:
    assert redact("anything") == "***"
    assert redact("") == "***"
    assert redact(None) == "***"


# --------------------------------------------------------------------------- free text


def test_mask_free_text_chinese_sentence() -> None:
    text = (
        f"客户张三来电，手机13812345678，身份证{VALID_ID_DIGIT}，卡号6222021234567890123要求挂失。"
    )
    assert mask_free_text(text) == (
        "客户张三来电，手机138****5678，身份证110***********4477，卡号***************0123要求挂失。"
    )


def test_mask_free_text_id_before_mobile() -> None:
    # The ID contains "13" followed by nine digits; it must not be half-masked as a phone.
    id_number = "110101" + "19900307" + "135"
    id_number += _id_check_char(id_number)
    assert mask_free_text(f"证件{id_number}") == f"证件110***********{id_number[-4:]}"


def test_mask_free_text_id_with_x_and_separators() -> None:
    assert mask_free_text(f"身份证号：{VALID_ID}。") == "身份证号：110***********002X。"
    assert mask_free_text("身份证号110105 19491231 002x") == "身份证号110***********002X"


def test_mask_free_text_eighteen_digits_without_valid_checksum_masked_as_card() -> None:
    # 18 digits that are not a valid ID: mask with the stricter card rule.
    assert mask_free_text("卡622202123456789012。") == "卡**************9012。"


def test_mask_free_text_spaced_and_prefixed_numbers() -> None:
    text = "请回拨+86 138 1234 5678或0086-13912345678，卡号6222 0212 3456 7890。"
    assert mask_free_text(text) == "请回拨138****5678或139****5678，卡号************7890。"


def test_mask_free_text_fullwidth_digits() -> None:
    assert mask_free_text("手机１３８１２３４５６７８。") == "手机138****5678。"


def test_mask_free_text_leaves_other_numbers() -> None:
    text = "2024年3月14日来电，通话时长15分钟，金额12345.67元，工单号20240314000001。"
    assert mask_free_text(text) == text


def test_mask_free_text_ignores_longer_digit_runs_partially() -> None:
    # 11 digits inside a longer run are not a mobile number (digit lookarounds, not \b).
    text = "流水号2613812345678901234567"
    assert mask_free_text(text) == text


def test_mask_free_text_adjacent_to_latin_letters() -> None:
    assert mask_free_text("Tel13812345678ext") == "Tel138****5678ext"


@given(
    st.lists(st.one_of(mobiles, id_numbers, bank_cards), min_size=1, max_size=5),
    st.lists(chinese_filler, min_size=6, max_size=6),
)
def test_mask_free_text_property(identifiers: list[str], fillers: list[str]) -> None:
    parts = [fillers[0]]
    for index, identifier in enumerate(identifiers):
        parts += [identifier, fillers[index + 1]]
    text = "".join(parts)
    masked = mask_free_text(text)
    for identifier in identifiers:
        assert identifier not in masked
    # No run of 11 or more digits survives.
    assert re.search(r"\d{11}", masked) is None
    # The surrounding Chinese text is kept.
    for filler in fillers[: len(identifiers) + 1]:
        assert filler in masked


@given(mobiles, chinese_filler, chinese_filler)
def test_mask_free_text_mobile_property(mobile: str, before: str, after: str) -> None:
    assert mask_free_text(before + mobile + after) == before + mask_mobile(mobile) + after


@given(id_numbers, chinese_filler, chinese_filler)
def test_mask_free_text_id_property(id_number: str, before: str, after: str) -> None:
    assert mask_free_text(before + id_number + after) == before + mask_id_number(id_number) + after


# --------------------------------------------------------------------------- MASKS / apply_view


def test_masks_registry() -> None:
    assert set(MASKS) == {
        "name",
        "mobile",
        "id_number",
        "bank_card",
        "policy_number",
        "email",
        "address",
        "date",
        "free_text",
        "redact",
    }
    assert MASKS["mobile"] is mask_mobile
    assert MASKS["redact"] is redact


def test_all_lists_public_names() -> None:
    for name in masking.__all__:
        assert hasattr(masking, name)
    assert not any(name.startswith("_") for name in masking.__all__)


def test_apply_view() -> None:
    assert apply_view("13812345678", "mobile", "plain") == "13812345678"
    assert apply_view("13812345678", "mobile", "masked") == "138****5678"
    assert apply_view("13812345678", "mobile", "hidden") is None
    assert apply_view("张三", "redact", "masked") == "***"
    for view in ("plain", "masked", "hidden"):
        assert apply_view(None, "mobile", view) is None


@pytest.mark.parametrize("view", ["", "PLAIN", "unmasked", "full", "raw"])
def test_apply_view_unknown_view_fails_closed(view: str) -> None:
    with pytest.raises(ValueError, match="unknown view") as excinfo:
        apply_view("13812345678", "mobile", view)
    assert "13812345678" not in str(excinfo.value)


@pytest.mark.parametrize("view", ["plain", "masked", "hidden"])
def test_apply_view_unknown_rule_fails_closed(view: str) -> None:
    with pytest.raises(ValueError, match="unknown mask rule") as excinfo:
        apply_view("13812345678", "phone", view)
    assert "13812345678" not in str(excinfo.value)
    with pytest.raises(ValueError):
        apply_view(None, "phone", view)


@pytest.mark.parametrize("rule", sorted(set(MASKS) - {"free_text"}))
@given(value=st.one_of(mobiles, id_numbers, bank_cards))
def test_every_rule_hides_full_identifiers(rule: str, value: str) -> None:
    masked = apply_view(value, rule, "masked")
    assert masked is not None
    assert masked != value
    assert value not in masked


@pytest.mark.parametrize("rule", sorted(MASKS))
@given(value=st.text(max_size=40))
def test_every_rule_accepts_arbitrary_text(rule: str, value: str) -> None:
    masked = MASKS[rule](value)
    assert isinstance(masked, str)
    # Fail closed: any input of at least 6 characters never comes back unchanged,
    # except free text, which only changes when it embeds an identifier.
    # (A value that is already in masked form, with "*", may be a fixed point.)
    if rule != "free_text" and len(value.strip()) >= 6:
        assert masked != value or "*" in value
