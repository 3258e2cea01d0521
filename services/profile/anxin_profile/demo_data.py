"""Deterministic demo customers (Faker zh_CN, seeded) for seeding the profile service.

The same ``seed`` always gives the same customers with the same installed Faker version.
Every generated resident ID carries a valid GB 11643-1999 check character, a real
6-digit area code and the birth date and gender of its customer; every bank account is
a Luhn-valid UnionPay number; every mobile number matches ``^1[3-9]\\d{9}$``.  E-mail
addresses use the reserved ``example.*`` domains.  The data is synthetic, but mobile
and ID numbers are plausible, so treat seeded data as personal data all the same.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

__all__ = [
    "HOUSEHOLD_ROLES",
    "LIFECYCLE_STAGES",
    "SUBSIDIARIES",
    "VALUE_TIERS",
    "DemoCustomer",
    "demo_app_account",
    "demo_device_id",
    "gb11643_check_char",
    "generate_customers",
    "is_luhn_valid",
    "is_valid_id_number",
    "is_valid_mobile",
    "luhn_check_digit",
]

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK_CHARS = "10X98765432"
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_DIGITS = re.compile(r"[0-9]+")

SUBSIDIARIES = ("life", "pc", "bank")
VALUE_TIERS = ("standard", "gold", "platinum")
LIFECYCLE_STAGES = ("prospect", "active", "dormant")
HOUSEHOLD_ROLES = ("head", "spouse", "child", "parent")

# Real county-level administrative division codes (GB/T 2260) and their names.
_AREAS = (
    ("110101", "北京市东城区"),
    ("110105", "北京市朝阳区"),
    ("120101", "天津市和平区"),
    ("310104", "上海市徐汇区"),
    ("310115", "上海市浦东新区"),
    ("320102", "江苏省南京市玄武区"),
    ("330106", "浙江省杭州市西湖区"),
    ("350203", "福建省厦门市思明区"),
    ("370202", "山东省青岛市市南区"),
    ("420106", "湖北省武汉市武昌区"),
    ("430104", "湖南省长沙市岳麓区"),
    ("440106", "广东省广州市天河区"),
    ("440305", "广东省深圳市南山区"),
    ("500103", "重庆市渝中区"),
    ("510107", "四川省成都市武侯区"),
    ("610113", "陕西省西安市雁塔区"),
)
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151",
    "152", "155", "157", "158", "159", "166", "176", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip
# UnionPay issuer prefixes (all start with "62").
_UNIONPAY_BINS = ("622202", "622848", "621700", "622588", "621483", "623052", "622262")
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

_HOUSEHOLD_SHAPES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("head",), 30),
    (("head", "spouse"), 18),
    (("head", "child"), 6),
    (("head", "parent"), 6),
    (("head", "spouse", "child"), 17),
    (("head", "spouse", "parent"), 4),
    (("head", "child", "child"), 4),
    (("head", "spouse", "child", "child"), 9),
    (("head", "spouse", "child", "parent"), 6),
)

_PRODUCTS = {"life": "寿险保单", "pc": "车险保单", "bank": "信用卡账单"}
_PAYMENTS = {"life": "续期缴费", "pc": "续保缴费", "bank": "还款"}
_PLAIN_NOTES = (
    "客户来电咨询{product}相关事宜，已按流程解答。",
    "客户询问{product}{payment}方式，已告知线上渠道。",
    "回访客户满意度，客户对上次服务表示满意。",
    "客户反映APP登录异常，已指导其重置密码。",
    "客户要求寄送{product}纸质材料，已登记邮寄地址。",
    "客户来电投诉等待时间过长，已致歉并记录。",
)
_MOBILE_NOTES = (
    "客户要求将联系电话更新为{mobile}，已完成身份核验。",
    "客户称{mobile}近期收到冒充客服的短信，已提示防范诈骗。",
    "客户不便接听，约定明日下午回拨{mobile}。",
)
_CARD_NOTES = (
    "客户申请将扣款账户变更为{card}，待补充授权书。",
    "客户反映卡号{card}有一笔未识别扣款，已转风控核查。",
)


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    """One synthetic customer of the group."""

    customer_id: str
    subsidiary: str
    name: str
    gender: str
    birth_date: date
    id_type: str
    id_number: str
    mobile: str
    email: str
    address: str
    bank_account: str | None
    policy_number: str | None
    value_tier: str
    lifecycle_stage: str
    notes: str
    household_id: str
    household_role: str


def gb11643_check_char(first17: str) -> str:
    """Return the GB 11643-1999 (ISO 7064 MOD 11-2) check character for 17 digits."""
    if len(first17) != 17 or _DIGITS.fullmatch(first17) is None:
        raise ValueError("expected exactly 17 ASCII digits")
    pairs = zip(first17, _GB11643_WEIGHTS, strict=True)
    return _GB11643_CHECK_CHARS[sum(int(digit) * weight for digit, weight in pairs) % 11]


def is_valid_id_number(value: str) -> bool:
    """Whether value is 17 digits plus a correct GB 11643 check character (digit or X)."""
    if _ID_NUMBER.fullmatch(value) is None:
        return False
    return gb11643_check_char(value[:17]) == value[17]


def luhn_check_digit(partial: str) -> str:
    """Return the Luhn check digit to append to a string of digits."""
    if _DIGITS.fullmatch(partial) is None:
        raise ValueError("expected one or more ASCII digits")
    total = 0
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_luhn_valid(value: str) -> bool:
    """Whether value is at least two digits whose last digit is its Luhn check digit."""
    if len(value) < 2 or _DIGITS.fullmatch(value) is None:
        return False
    return luhn_check_digit(value[:-1]) == value[-1]


def is_valid_mobile(value: str) -> bool:
    """Whether value is an 11-digit mainland mobile number (``^1[3-9]\\d{9}$``)."""
    return _MOBILE.fullmatch(value) is not None


@dataclass
class _Person:
    """A household member before the customer record is assembled."""

    role: str
    surname: str
    gender: str
    birth_date: date
    area_code: str


class _Generator:
    """Draws customers from one seeded random source and one seeded Faker."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.id_numbers: set[str] = set()
        self.mobiles: set[str] = set()
        self.emails: set[str] = set()
        self.cards: set[str] = set()
        self.policies: set[str] = set()

    def _unique(self, seen: set[str], draw: Callable[[], str]) -> str:
        """Call draw until it yields a value not in seen, then record it."""
        while True:
            value = draw()
            if value not in seen:
                seen.add(value)
                return value

    def _digits(self, count: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(count))

    def _birth_date(self, year: int) -> date:
        start = date(year, 1, 1)
        return start + timedelta(days=self.rng.randrange((date(year + 1, 1, 1) - start).days))

    def _other_surname(self, avoid: str) -> str:
        while True:
            surname = self.fake.last_name()
            if surname != avoid:
                return surname

    def household(self, roles: tuple[str, ...]) -> tuple[list[_Person], str]:
        """Draw the members of one household and its shared address."""
        area_code, region = self.rng.choice(_AREAS)
        has_child = "child" in roles
        head_year = self.rng.randint(
            1962 if "parent" in roles else 1945, 1980 if has_child else 2000
        )
        head_gender = self.rng.choice("MF")
        head = _Person(
            "head", self.fake.last_name(), head_gender, self._birth_date(head_year), area_code
        )
        members = [head]
        spouse: _Person | None = None
        if "spouse" in roles:
            spouse_year = self.rng.randint(
                max(1940, head_year - 5), min(1983 if has_child else 2005, head_year + 5)
            )
            spouse = _Person(
                "spouse",
                self._other_surname(head.surname),
                "F" if head_gender == "M" else "M",
                self._birth_date(spouse_year),
                area_code if self.rng.random() < 0.6 else self.rng.choice(_AREAS)[0],
            )
            members.append(spouse)
        father = spouse if spouse is not None and spouse.gender == "M" else head
        parent_years = [member.birth_date.year for member in members]
        for role in roles[1:]:
            if role == "child":
                year = self.rng.randint(max(parent_years) + 20, min(2005, min(parent_years) + 40))
                gender = self.rng.choice("MF")
                birth_date = self._birth_date(year)
                members.append(_Person("child", father.surname, gender, birth_date, area_code))
            elif role == "parent":
                gender = self.rng.choice("MF")
                surname = head.surname if gender == "M" else self._other_surname(head.surname)
                year = self.rng.randint(max(1940, head_year - 38), head_year - 20)
                birth_date = self._birth_date(year)
                birth_area = self.rng.choice(_AREAS)[0]
                members.append(_Person("parent", surname, gender, birth_date, birth_area))
        street = self.fake.street_name()
        address = (
            f"{region}{street}{self.rng.randint(1, 399)}号"
            f"{self.rng.randint(1, 30)}栋{self.rng.randint(1, 33)}{self.rng.randint(1, 4):02d}室"
        )
        return members, address

    def id_number(self, person: _Person) -> str:
        """Draw a unique, checksum-valid resident ID matching the person's data."""

        def draw() -> str:
            gender_digit = self.rng.choice("13579" if person.gender == "M" else "02468")
            first17 = f"{person.area_code}{person.birth_date:%Y%m%d}{self._digits(2)}{gender_digit}"
            return first17 + gb11643_check_char(first17)

        return self._unique(self.id_numbers, draw)

    def mobile(self) -> str:
        """Draw a unique mobile number."""
        return self._unique(
            self.mobiles, lambda: self.rng.choice(_MOBILE_PREFIXES) + self._digits(8)
        )

    def email(self) -> str:
        """Draw a unique e-mail address on a reserved example domain."""
        return self._unique(
            self.emails,
            lambda: (
                f"{self.fake.user_name()}{self.rng.randint(1, 999)}"
                f"@{self.rng.choice(_EMAIL_DOMAINS)}"
            ),
        )

    def bank_card(self) -> str:
        """Draw a unique, Luhn-valid UnionPay card number of 16 or 19 digits."""

        def draw() -> str:
            length = self.rng.choice((16, 19))
            partial = self.rng.choice(_UNIONPAY_BINS) + self._digits(length - 7)
            return partial + luhn_check_digit(partial)

        return self._unique(self.cards, draw)

    def policy_number(self, subsidiary: str) -> str | None:
        """Draw a unique policy number for life and P&C customers, None for bank."""
        if subsidiary == "bank":
            return None
        prefix = "LP" if subsidiary == "life" else "PC"
        return self._unique(
            self.policies,
            lambda: f"{prefix}{self.rng.randint(2005, 2025)}{self._digits(10)}",
        )

    def notes(self, subsidiary: str, mobile: str, card: str | None) -> str:
        """Draw a short interaction note, sometimes quoting the mobile or card number."""
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice(_MOBILE_NOTES).format(mobile=mobile)
        if roll < 0.5 and card is not None:
            return self.rng.choice(_CARD_NOTES).format(card=card)
        return self.rng.choice(_PLAIN_NOTES).format(
            product=_PRODUCTS[subsidiary], payment=_PAYMENTS[subsidiary]
        )


def generate_customers(count: int = 240, seed: int = 20261126) -> list[DemoCustomer]:
    """Return count deterministic demo customers grouped into households of 1-4."""
    if not 0 <= count <= 999_999:
        raise ValueError("count must be between 0 and 999999")
    gen = _Generator(seed)
    rng = gen.rng
    subsidiaries = [SUBSIDIARIES[index % len(SUBSIDIARIES)] for index in range(count)]
    rng.shuffle(subsidiaries)
    shapes = [shape for shape, _ in _HOUSEHOLD_SHAPES]
    weights = [weight for _, weight in _HOUSEHOLD_SHAPES]

    customers: list[DemoCustomer] = []
    household_number = 0
    while len(customers) < count:
        household_number += 1
        roles = rng.choices(shapes, weights)[0][: count - len(customers)]
        members, address = gen.household(roles)
        for person in members:
            index = len(customers)
            subsidiary = subsidiaries[index]
            given_name = (
                gen.fake.first_name_male() if person.gender == "M" else gen.fake.first_name_female()
            )
            mobile = gen.mobile()
            has_card = subsidiary == "bank" or rng.random() < 0.35
            card = gen.bank_card() if has_card else None
            customers.append(
                DemoCustomer(
                    customer_id=f"C{index + 1:06d}",
                    subsidiary=subsidiary,
                    name=person.surname + given_name,
                    gender=person.gender,
                    birth_date=person.birth_date,
                    id_type="resident_id",
                    id_number=gen.id_number(person),
                    mobile=mobile,
                    email=gen.email(),
                    address=address,
                    bank_account=card,
                    policy_number=gen.policy_number(subsidiary),
                    value_tier=rng.choices(VALUE_TIERS, (70, 22, 8))[0],
                    lifecycle_stage=rng.choices(LIFECYCLE_STAGES, (15, 70, 15))[0],
                    notes=gen.notes(subsidiary, mobile, card),
                    household_id=f"H{household_number:06d}",
                    household_role=person.role,
                )
            )
    return customers


def demo_device_id(customer_id: str) -> str | None:
    """The known device of a demo customer (every fourth customer has one), else None."""
    number = int(customer_id[1:])
    if number % 4 != 1:
        return None
    return "DEV-" + hashlib.sha256(f"anxin-demo-device:{customer_id}".encode()).hexdigest()[:16]


def demo_app_account(customer_id: str) -> str | None:
    """The app account of a demo customer (every third customer has one), else None."""
    number = int(customer_id[1:])
    if number % 3 != 0:
        return None
    return f"app-{hashlib.sha256(f'anxin-demo-app:{customer_id}'.encode()).hexdigest()[:12]}"
