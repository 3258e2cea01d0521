"""The differential test: the fast path returns exactly what stock `casbin.Enforcer` returns.

Random policies on Anxin's model (`policies/model.conf`) — allow and deny rules,
`*` domains and actions, `keyMatch` object patterns (a `*` at the end, in the
middle, alone), odd levels compared as strings, odd effects, role hierarchies
with cycles and chains deeper than casbin's 10 levels, grants in one subsidiary,
in `*` and in a domain pattern — and random requests, including unknown
subjects, subsidiaries and objects. Each answer is compared as the pair
`enforce_ex` returns: the boolean and the explained (matched) rule.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path

import casbin
from hypothesis import given, settings
from hypothesis import strategies as st

from anxin_shared.policy import (
    PolicyEngine,
    _build_stock,
    _TextAdapter,
    build_state,
    parse_policy_lines,
    read_policy_files,
)
from anxin_shared.policy_fast import FastPolicy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MODEL = (POLICIES / "model.conf").read_text(encoding="utf-8")
SEED = int(os.environ.get("ANXIN_DIFF_SEED", "20261126"))

USERS = ["u0", "u1", "u2", "u3", "u4"]
ROLES = ["r0", "r1", "r2", "r3", "r4", "r5"]
RULE_DOMS = ["d0", "d1", "d2", "*", "*", "d*"]
LINK_DOMS = ["d0", "d1", "d2", "*", "*", "d*", "x*"]
REQUEST_DOMS = ["d0", "d1", "d2", "d3", "*", "d*", "x1", "", "group"]
RULE_OBJS = ["a.b", "a.c", "a.*", "a", "*", "b.x", "a.b*c", "b.*", "a.b.c"]
REQUEST_OBJS = ["a.b", "a.c", "a.", "a", "a.bzz", "b.x", "b.", "c", "*", "a.b.c", "a.*"]
RULE_ACTS = ["read", "write", "view.plain", "*"]
REQUEST_ACTS = ["read", "write", "view.plain", "delete", "*"]
LEVELS = ["L0", "L1", "L2", "L3"]
ODD_LEVELS = ["L10", "", "M", "l1", "L"]
EFTS = ["allow"] * 6 + ["deny"] * 3 + ["Allow"]
CLASSIFICATIONS = sorted(["a.b", "a.c", "a.b.c", "b.x", "c", "a"])


def random_policy(rng: random.Random) -> str:
    """A policy.csv: rules, a role hierarchy (with cycles), grants, a deep chain now and then."""
    lines = []
    for _ in range(rng.randint(0, 24)):
        sub = rng.choice(ROLES + ROLES + USERS[:2])
        lvl = rng.choice(LEVELS * 4 + ODD_LEVELS)
        lines.append(
            f"p, {sub}, {rng.choice(RULE_DOMS)}, {rng.choice(RULE_OBJS)},"
            f" {rng.choice(RULE_ACTS)}, {lvl}, {rng.choice(EFTS)}"
        )
    for _ in range(rng.randint(0, 6)):
        lines.append(f"g, {rng.choice(ROLES)}, {rng.choice(ROLES)}, {rng.choice(LINK_DOMS)}")
    for _ in range(rng.randint(0, 10)):
        lines.append(f"g, {rng.choice(USERS)}, {rng.choice(ROLES)}, {rng.choice(LINK_DOMS)}")
    if rng.random() < 0.15:
        depth = rng.randint(8, 12)
        chain = [f"c{i}" for i in range(depth)]
        dom = rng.choice(["*", "d0"])
        lines.append(f"g, u0, {chain[0]}, {dom}")
        lines += [f"g, {a}, {b}, {dom}" for a, b in itertools.pairwise(chain)]
        lines.append(f"p, {chain[-1]}, *, a.b, read, L0, allow")
        lines.append(f"p, {chain[-2]}, *, a.c, read, L0, allow")
    rng.shuffle(lines)
    return "\n".join(lines) + "\n"


def random_request(rng: random.Random, policy_csv: str = "") -> tuple[str, str, str, str, str]:
    """Half the time aimed at one of the policy's rules (so allows and denies both occur)."""
    rules = [line.split(", ") for line in policy_csv.splitlines() if line.startswith("p, ")]
    if rules and rng.random() < 0.6:
        _, sub, dom, obj, act, lvl, _eft = rng.choice(rules)
        links = [line.split(", ") for line in policy_csv.splitlines() if line.startswith("g, ")]
        holders = [link[1] for link in links if link[2] == sub]
        return (
            rng.choice([sub, *holders, *holders]),
            rng.choice(REQUEST_DOMS) if dom == "*" or rng.random() < 0.3 else dom,
            obj.replace("*", rng.choice(["", "x", ".y"])) if rng.random() < 0.8 else obj,
            rng.choice(REQUEST_ACTS) if act == "*" or rng.random() < 0.2 else act,
            rng.choice(["L3", lvl, rng.choice(LEVELS + ODD_LEVELS)]),
        )
    return (
        rng.choice([*USERS, *ROLES, "nobody", "c9", "c11"]),
        rng.choice(REQUEST_DOMS),
        rng.choice(REQUEST_OBJS),
        rng.choice(REQUEST_ACTS),
        rng.choice(LEVELS * 3 + ODD_LEVELS),
    )


def both(policy_csv: str) -> tuple[casbin.Enforcer, FastPolicy]:
    source = {
        "model.conf": MODEL,
        "policy.csv": policy_csv,
        "fields.yaml": "fields:\n"
        + "".join(
            f"  f{i}: {{classification: {c}, mask: redact}}\n"
            for i, c in enumerate(CLASSIFICATIONS)
        ),
        "catalogue.yaml": "{}\n",
    }
    state = build_state(source)
    assert state.fast is not None
    return _build_stock(source), state.fast


def differences(
    stock: casbin.Enforcer, fast: FastPolicy, requests: list[tuple[str, str, str, str, str]]
) -> list[str]:
    found = []
    for request in requests:
        allowed, explain = stock.enforce_ex(*request)
        expected = (bool(allowed), ", ".join(explain) if explain else None)
        answer = fast.enforce(*request)
        got = (answer.allowed, fast.rule_text(answer))
        if got != expected:
            found.append(f"{request}: stock {expected}, fast {got}")
    return found


def test_100k_random_requests_on_random_policies_agree_with_stock() -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    compared, allowed, denied_by_rule, found = 0, 0, 0, []
    while compared < 100_000:
        policy_csv = random_policy(rng)
        stock, fast = both(policy_csv)
        requests = [random_request(rng, policy_csv) for _ in range(250)]
        bad = differences(stock, fast, requests)
        if bad:
            found.append(f"seed {SEED}, policy:\n{policy_csv}\n" + "\n".join(bad[:5]))
        for request in requests:
            answer = fast.enforce(*request)
            allowed += answer.allowed
            denied_by_rule += (not answer.allowed) and answer.rule is not None
        compared += len(requests)
    assert found == [], found[:3]
    # The random space must really exercise both outcomes, not deny everything.
    assert allowed > 5_000 and denied_by_rule > 5_000, (allowed, denied_by_rule)
    assert time.monotonic() - started < 60


def stock_views(stock: casbin.Enforcer, sub: str, dom: str, lvl: str) -> dict[str, str]:
    """Field views the slow way: enforce view.plain, then view.masked, per classification."""
    views = {}
    for name in CLASSIFICATIONS:
        if stock.enforce(sub, dom, name, "view.plain", lvl):
            views[name] = "plain"
        elif stock.enforce(sub, dom, name, "view.masked", lvl):
            views[name] = "masked"
        else:
            views[name] = "hidden"
    return views


def test_field_views_agree_with_stock() -> None:
    rng = random.Random(SEED + 3)
    compared = 0
    seen = set()
    for _ in range(100):
        policy = random_policy(rng).replace(", read,", ", view.masked,")
        policy = policy.replace(", write,", ", view.plain,")
        stock, fast = both(policy)
        for _ in range(10):
            sub, dom, _obj, _act, lvl = random_request(rng, policy)
            expected = stock_views(stock, sub, dom, lvl)
            assert fast.views(sub, dom, lvl) == expected, (policy, sub, dom, lvl)
            seen.update(expected.values())
            compared += 1
    assert compared == 1_000 and seen == {"plain", "masked", "hidden"}


def test_roles_and_implicit_roles_agree_with_stock() -> None:
    rng = random.Random(SEED + 1)
    for _ in range(300):
        stock, fast = both(random_policy(rng))
        for sub in [*USERS, *ROLES, "nobody"]:
            for dom in REQUEST_DOMS:
                # Stock's order comes from a set; `roles_for` sorts.
                assert sorted(fast.implicit_roles(sub, dom)) == sorted(
                    stock.get_implicit_roles_for_user(sub, dom)
                ), (sub, dom)


def test_the_depth_limit_is_casbins() -> None:
    chain = [f"c{i}" for i in range(12)]
    policy = "g, u0, c0, *\n" + "".join(f"g, {a}, {b}, *\n" for a, b in itertools.pairwise(chain))
    policy += "".join(f"p, {name}, *, {name}, read, L0, allow\n" for name in chain)
    stock, fast = both(policy)
    expected = [bool(stock.enforce("u0", "d0", name, "read", "L0")) for name in chain]
    assert expected == [True] * 9 + [False] * 3  # distances 1..9 reachable, not 10+
    assert [fast.enforce("u0", "d0", name, "read", "L0").allowed for name in chain] == expected


def test_explained_rule_is_the_first_deny_or_else_the_last_match() -> None:
    policy = (
        "p, r0, *, a.b, read, L0, allow\n"
        "p, r0, *, a.*, read, L0, deny\n"
        "p, r0, *, a.b, read, L0, allow\n"
        "p, r0, *, *, read, L0, deny\n"
        "p, r0, *, a.b, *, L0, allow\n"
        "g, u0, r0, d0\n"
    )
    stock, fast = both(policy)
    assert stock.enforce_ex("u0", "d0", "a.b", "read", "L0") == (
        False,
        ["r0", "*", "a.*", "read", "L0", "deny"],
    )
    answer = fast.enforce("u0", "d0", "a.b", "read", "L0")
    assert (answer.allowed, fast.rule_text(answer)) == (False, "r0, *, a.*, read, L0, deny")
    allow_only = "p, r0, *, a.b, read, L0, allow\np, r0, *, a.*, *, L0, allow\ng, u0, r0, d0\n"
    stock, fast = both(allow_only)
    assert stock.enforce_ex("u0", "d0", "a.b", "read", "L0")[1][2] == "a.*"
    assert fast.rule_text(fast.enforce("u0", "d0", "a.b", "read", "L0")) == (
        "r0, *, a.*, *, L0, allow"
    )


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(
        st.tuples(
            st.sampled_from(ROLES + USERS[:1]),
            st.sampled_from(RULE_DOMS),
            st.sampled_from(RULE_OBJS),
            st.sampled_from(RULE_ACTS),
            st.sampled_from(LEVELS + ODD_LEVELS),
            st.sampled_from(["allow", "deny", "Allow"]),
        ),
        max_size=12,
    ),
    links=st.lists(
        st.tuples(
            st.sampled_from(USERS + ROLES), st.sampled_from(ROLES), st.sampled_from(LINK_DOMS)
        ),
        max_size=10,
    ),
    requests=st.lists(
        st.tuples(
            st.sampled_from([*USERS, *ROLES, "nobody"]),
            st.sampled_from(REQUEST_DOMS),
            st.sampled_from(REQUEST_OBJS),
            st.sampled_from(REQUEST_ACTS),
            st.sampled_from(LEVELS + ODD_LEVELS),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_hypothesis_generated_policies_agree_with_stock(
    rules: list[tuple[str, ...]],
    links: list[tuple[str, str, str]],
    requests: list[tuple[str, str, str, str, str]],
) -> None:
    policy = "".join(f"p, {', '.join(rule)}\n" for rule in rules)
    policy += "".join(f"g, {', '.join(link)}\n" for link in links)
    stock, fast = both(policy)
    assert differences(stock, fast, requests) == []


def test_the_repository_policy_agrees_with_stock_on_its_whole_request_space() -> None:
    state = build_state(read_policy_files(POLICIES), stock=True)
    assert state.fast is not None
    subjects = sorted({sub for sub, *_ in state.g_rules} | set(state.catalogue["roles"]))
    subjects.append("nobody")
    domains = [*state.catalogue["subsidiaries"], "*", "unknown"]
    objects = [*state.catalogue["resources"], *state.classifications, "customer.x"]
    actions = [*state.catalogue["actions"], "*"]
    rng = random.Random(SEED + 2)
    requests = [
        (
            rng.choice(subjects),
            rng.choice(domains),
            rng.choice(objects),
            rng.choice(actions),
            rng.choice(LEVELS),
        )
        for _ in range(1_500)
    ]
    assert differences(state.enforcer, state.fast, requests) == []


def test_the_engine_decides_the_same_on_the_fast_and_the_stock_path() -> None:
    fast, stock = PolicyEngine(POLICIES), PolicyEngine(POLICIES, stock=True)
    fast.load()
    stock.load()
    for subject in ("agent.li", "supervisor.liu", "contractor.sun", "auditor.zheng", "nobody"):
        for domain in ("life", "bank", "group"):
            assert fast.roles_for(subject, domain) == stock.roles_for(subject, domain)
            for level in LEVELS:
                assert fast.field_views(subject, domain, level) == stock.field_views(
                    subject, domain, level
                )
                for resource, action in (
                    ("customer.profile", "read"),
                    ("customer.profile", "unmask"),
                    ("customer.household", "read"),
                    ("audit.event", "read"),
                ):
                    a = fast.decide(subject, domain, resource, action, level).record()
                    b = stock.decide(subject, domain, resource, action, level).record()
                    a.pop("decision_id"), b.pop("decision_id")
                    assert a == b


def test_policy_lines_parse_as_casbins_adapter_parses_them() -> None:
    text = (
        "# comment\n\n  p, r0, *, a.b, read, L0, allow  \n"
        "p,r1,d0,a.*,write,L1,deny\n"
        "p, r2, *, keyMatch(a, b), read, L0, allow\n"
        "g, u0, r0, d0, extra\n"
        "g2, u0, r1, d0\n"
        "x, y\n"
        "p, r3, [d0, d1], a, read, L0, allow\n"
        "g, u1, r2, *\n"
    )
    model = casbin.Enforcer.new_model(text=MODEL)
    p_rules, g_rules = parse_policy_lines(text, casbin.Enforcer.new_model(text=MODEL))
    _TextAdapter(text).load_policy(model)
    assert p_rules == model.model["p"]["p"].policy
    assert g_rules == model.model["g"]["g"].policy
    assert p_rules[2] == ["r2", "*", "keyMatch(a, b)", "read", "L0", "allow"]
