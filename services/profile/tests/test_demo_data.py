"""Tests for anxin_profile.demo_data."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anxin_profile.demo_data import (
    HOUSEHOLD_ROLES,
    LIFECYCLE_STAGES,
    SUBSIDIARIES,
    VALUE_TIERS,
    DemoCustomer,
    gb11643_check_char,
    generate_customers,
    is_luhn_valid,
    is_valid_id_number,
    is_valid_mobile,
    luhn_check_digit,
)
from anxin_shared.masking import mask_free_text

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=30)
first17s = st.text(alphabet="0123456789", min_size=17, max_size=17)


@pytest.fixture(scope="module")
def customers() -> list[DemoCustomer]:
    return generate_customers()


@pytest.fixture(scope="module")
def households(customers: list[DemoCustomer]) -> dict[str, list[DemoCustomer]]:
    grouped: dict[str, list[DemoCustomer]] = defaultdict(list)
    for customer in customers:
        grouped[customer.household_id].append(customer)
    return grouped


# --------------------------------------------------------------------------- checksum helpers


def test_gb11643_known_vectors() -> None:
    # The worked example of GB 11643-1999.
    assert gb11643_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("11010519491231002")
    assert not is_valid_id_number("11010519491231002X ")
    assert not is_valid_id_number("")


@pytest.mark.parametrize("bad", ["", "1234567890123456", "123456789012345678", "1101051949123100X"])
def test_gb11643_check_char_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        gb11643_check_char(bad)


@given(first17s)
def test_gb11643_check_char_makes_valid_ids(first17: str) -> None:
    assert is_valid_id_number(first17 + gb11643_check_char(first17))


@given(first17s, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_gb11643_detects_single_digit_change(first17: str, position: int, delta: int) -> None:
    valid = first17 + gb11643_check_char(first17)
    changed_digit = str((int(valid[position]) + delta) % 10)
    changed = valid[:position] + changed_digit + valid[position + 1 :]
    assert not is_valid_id_number(changed)


@given(first17s, st.sampled_from("0123456789X"))
def test_gb11643_exactly_one_check_char_is_valid(first17: str, check: str) -> None:
    assert is_valid_id_number(first17 + check) == (check == gb11643_check_char(first17))


def test_luhn_known_vectors() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert is_luhn_valid("79927398713")
    assert not is_luhn_valid("79927398710")
    assert is_luhn_valid("4111111111111111")
    assert not is_luhn_valid("0")
    assert not is_luhn_valid("")
    assert not is_luhn_valid("4111 1111 1111 1111")
    with pytest.raises(ValueError):
        luhn_check_digit("")
    with pytest.raises(ValueError):
        luhn_check_digit("12a4")


@given(digit_strings)
def test_luhn_check_digit_makes_valid_numbers(partial: str) -> None:
    assert is_luhn_valid(partial + luhn_check_digit(partial))


@given(digit_strings, st.data())
def test_luhn_detects_single_digit_change(partial: str, data: st.DataObject) -> None:
    valid = partial + luhn_check_digit(partial)
    position = data.draw(st.integers(min_value=0, max_value=len(valid) - 1))
    delta = data.draw(st.integers(min_value=1, max_value=9))
    changed_digit = str((int(valid[position]) + delta) % 10)
    changed = valid[:position] + changed_digit + valid[position + 1 :]
    assert not is_luhn_valid(changed)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", True),
        ("19912345678", True),
        ("12812345678", False),
        ("1381234567", False),
        ("138123456789", False),
        ("+8613812345678", False),
        ("13812345678\n", False),
        ("１３８１２３４５６７８", False),
    ],
)
def test_is_valid_mobile(value: str, expected: bool) -> None:
    assert is_valid_mobile(value) is expected


# --------------------------------------------------------------------------- generated customers


def test_default_count(customers: list[DemoCustomer]) -> None:
    assert len(customers) == 240
    assert all(isinstance(customer, DemoCustomer) for customer in customers)


def test_customers_are_frozen(customers: list[DemoCustomer]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        customers[0].name = "changed"  # type: ignore[misc]


def test_deterministic(customers: list[DemoCustomer]) -> None:
    assert generate_customers() == customers
    assert generate_customers(240, 20261126) == customers
    assert generate_customers(seed=1) == generate_customers(seed=1)
    assert generate_customers(seed=1) != customers


@pytest.mark.parametrize("count", [0, 1, 2, 7, 50, 301])
def test_other_counts(count: int) -> None:
    generated = generate_customers(count, seed=7)
    assert len(generated) == count
    assert len({customer.customer_id for customer in generated}) == count


def test_negative_count_rejected() -> None:
    with pytest.raises(ValueError):
        generate_customers(-1)


def test_identifiers_unique(customers: list[DemoCustomer]) -> None:
    for field in ("customer_id", "id_number", "mobile", "email"):
        values = [getattr(customer, field) for customer in customers]
        assert len(set(values)) == len(values), field
    cards = [c.bank_account for c in customers if c.bank_account is not None]
    assert len(set(cards)) == len(cards)
    policies = [c.policy_number for c in customers if c.policy_number is not None]
    assert len(set(policies)) == len(policies)


def test_customer_ids_stable_format(customers: list[DemoCustomer]) -> None:
    assert [customer.customer_id for customer in customers] == [
        f"C{index:06d}" for index in range(1, 241)
    ]
    assert all(re.fullmatch(r"H\d{6}", customer.household_id) for customer in customers)


def test_subsidiary_spread(customers: list[DemoCustomer]) -> None:
    spread = Counter(customer.subsidiary for customer in customers)
    assert set(spread) == set(SUBSIDIARIES) == {"life", "pc", "bank"}
    assert all(spread[subsidiary] >= 60 for subsidiary in SUBSIDIARIES)


def test_id_numbers_valid_and_consistent(customers: list[DemoCustomer]) -> None:
    for customer in customers:
        id_number = customer.id_number
        assert customer.id_type == "resident_id"
        assert is_valid_id_number(id_number), id_number
        assert id_number[:6].isdigit() and not id_number[:6].endswith("00")
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        assert born == customer.birth_date
        assert customer.gender == ("M" if int(id_number[16]) % 2 == 1 else "F")
        assert date(1940, 1, 1) <= customer.birth_date <= date(2005, 12, 31)


def test_mobiles_valid(customers: list[DemoCustomer]) -> None:
    assert all(is_valid_mobile(customer.mobile) for customer in customers)


def test_bank_accounts(customers: list[DemoCustomer]) -> None:
    with_card = [customer for customer in customers if customer.bank_account is not None]
    for customer in with_card:
        card = customer.bank_account
        assert card is not None
        assert card.startswith("62")
        assert len(card) in (16, 19)
        assert is_luhn_valid(card), card
    assert all(c.bank_account is not None for c in customers if c.subsidiary == "bank")
    others = [c for c in customers if c.subsidiary != "bank"]
    assert any(c.bank_account is None for c in others)
    assert any(c.bank_account is not None for c in others)
    assert {len(c.bank_account) for c in with_card if c.bank_account} == {16, 19}


def test_policy_numbers(customers: list[DemoCustomer]) -> None:
    patterns = {"life": r"LP\d{14}", "pc": r"PC\d{14}"}
    for customer in customers:
        if customer.subsidiary == "bank":
            assert customer.policy_number is None
        else:
            assert customer.policy_number is not None
            assert re.fullmatch(patterns[customer.subsidiary], customer.policy_number)


def test_categorical_fields(customers: list[DemoCustomer]) -> None:
    assert {c.value_tier for c in customers} == set(VALUE_TIERS)
    assert {c.lifecycle_stage for c in customers} == set(LIFECYCLE_STAGES)
    assert {c.household_role for c in customers} == set(HOUSEHOLD_ROLES)
    assert {c.gender for c in customers} == {"M", "F"}


def test_text_fields(customers: list[DemoCustomer]) -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for customer in customers:
        assert 2 <= len(customer.name) <= 4 and all(han.match(ch) for ch in customer.name)
        assert re.fullmatch(r"[A-Za-z0-9._]+@example\.(com|net|org)", customer.email)
        assert han.match(customer.address) and len(customer.address) > 6
        assert han.match(customer.notes) and len(customer.notes) <= 60


def test_notes_embed_identifiers_and_mask_cleanly(customers: list[DemoCustomer]) -> None:
    with_mobile = [c for c in customers if c.mobile in c.notes]
    with_card = [c for c in customers if c.bank_account and c.bank_account in c.notes]
    assert len(with_mobile) >= 20
    assert len(with_card) >= 10
    for customer in customers:
        masked = mask_free_text(customer.notes)
        assert customer.mobile not in masked
        if customer.bank_account:
            assert customer.bank_account not in masked
        assert re.search(r"\d{11}", masked) is None


# --------------------------------------------------------------------------- households


def test_household_sizes_and_roles(households: dict[str, list[DemoCustomer]]) -> None:
    sizes = Counter(len(members) for members in households.values())
    assert set(sizes) == {1, 2, 3, 4}
    for members in households.values():
        roles = Counter(member.household_role for member in members)
        assert roles["head"] == 1
        assert members[0].household_role == "head"
        assert roles["spouse"] <= 1
        assert roles["parent"] <= 1


def test_household_members_are_contiguous(customers: list[DemoCustomer]) -> None:
    seen: list[str] = []
    for customer in customers:
        if not seen or seen[-1] != customer.household_id:
            assert customer.household_id not in seen
            seen.append(customer.household_id)


def test_household_shares_address_and_surname(
    households: dict[str, list[DemoCustomer]],
) -> None:
    for members in households.values():
        head = members[0]
        spouse = next((m for m in members if m.household_role == "spouse"), None)
        assert {member.address for member in members} == {head.address}
        if spouse is not None:
            assert spouse.gender != head.gender
            assert spouse.name[0] != head.name[0]
        father = spouse if spouse is not None and spouse.gender == "M" else head
        for member in members:
            if member.household_role == "child":
                assert member.name[0] == father.name[0]
            if member.household_role == "parent" and member.gender == "M":
                assert member.name[0] == head.name[0]


def test_household_ages(households: dict[str, list[DemoCustomer]]) -> None:
    for members in households.values():
        by_role: dict[str, list[DemoCustomer]] = defaultdict(list)
        for member in members:
            by_role[member.household_role].append(member)
        couple = by_role["head"] + by_role["spouse"]
        for child in by_role["child"]:
            assert all(child.birth_date.year - adult.birth_date.year >= 18 for adult in couple)
        for parent in by_role["parent"]:
            assert by_role["head"][0].birth_date.year - parent.birth_date.year >= 18
