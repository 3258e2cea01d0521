"""Explaining one decision: the verdict, the role chain, every matching allow and deny rule.

The one explainer of Anxin: `anxin policy explain` prints it and the gateway's
`POST /api/v1/policy/explain` returns it as JSON. A rule "matches" when the
model's matcher holds for the request (role held in the subsidiary, resource
and action match, the call's level reaches the rule's level); deny overrides
allow, so the matched rule of a denied request may be one of several.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anxin_shared.policy import Decision, FactValue, PolicyEngine, PolicyState, fact_holds
from anxin_shared.policy_cases import rule_lines
from anxin_shared.policy_fast import key_match


@dataclass(frozen=True)
class MatchedRule:
    """One `p` rule whose matcher holds for the request, with its `policy.csv` line."""

    line: int
    rule: tuple[str, ...]  # sub, dom, obj, act, lvl, eft

    @property
    def effect(self) -> str:
        """`allow` or `deny`."""
        return self.rule[5]

    def record(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict."""
        return {"line": self.line, "rule": ", ".join(self.rule), "effect": self.effect}


@dataclass(frozen=True)
class Explanation:
    """A decision and why: the role chain, the matching rules and the facts that failed."""

    decision: Decision
    stock: bool
    roles: list[str]
    role_chain: list[tuple[str, str, str]]  # (name, role, link subsidiary)
    matches: list[MatchedRule]
    facts: Mapping[str, FactValue]
    failed_facts: list[str]

    def rules(self, effect: str) -> list[MatchedRule]:
        """The matching rules of one effect, in policy order."""
        return [match for match in self.matches if match.effect == effect]

    def record(self) -> dict[str, Any]:
        """The explanation as a JSON-ready dict."""
        return {
            "decision": self.decision.record(),
            "engine": "stock pycasbin" if self.stock else "fast path",
            "roles": list(self.roles),
            "role_chain": [
                {"name": name, "role": role, "subsidiary": via}
                for name, role, via in self.role_chain
            ],
            "matching_allow_rules": [match.record() for match in self.rules("allow")],
            "matching_deny_rules": [match.record() for match in self.rules("deny")],
            "facts": {name: _fact_text(value) for name, value in self.facts.items()},
            "failed_facts": list(self.failed_facts),
        }


def _fact_text(value: FactValue) -> str | bool:
    return value if isinstance(value, bool) else str(value)


def matching_rules(
    state: PolicyState, request: tuple[str, str, str, str, str], stock: bool = False
) -> list[tuple[int, list[str]]]:
    """(index, rule) of every rule whose matcher holds, by fast index or by stock's roles."""
    sub, dom, obj, act, lvl = request
    if state.fast is not None and not stock:
        return [
            (rule.index, [rule.sub, rule.dom, rule.obj, rule.act, rule.lvl, rule.eft])
            for rule in state.fast.matching(sub, dom, obj, act, lvl)
        ]
    roles = state.enforcer.get_role_manager()
    found = []
    for index, rule in enumerate(state.p_rules):
        p_sub, p_dom, p_obj, p_act, p_lvl = rule[:5]
        if (
            roles.has_link(sub, p_sub, dom)
            and (p_dom == "*" or dom == p_dom)
            and key_match(obj, p_obj)
            and (p_act == "*" or act == p_act)
            and lvl >= p_lvl
        ):
            found.append((index, list(rule)))
    return found


def explain_decision(
    engine: PolicyEngine,
    subject: str,
    subsidiary: str,
    resource: str,
    action: str,
    level: str = "L0",
    facts: Mapping[str, FactValue] | None = None,
    now: datetime | None = None,
) -> Explanation:
    """Decide one request on the engine's loaded policy and explain the answer."""
    facts = dict(facts or {})
    decision = engine.decide(
        subject, subsidiary, resource, action, level, facts=facts, with_field_views=True, now=now
    )
    state = engine.state
    stock = engine.stock or state.fast is None
    lines = rule_lines(state.source["policy.csv"])
    request = (subject, subsidiary, resource, action, decision.assurance_level)
    matches = [
        MatchedRule(lines[index] if index < len(lines) else 0, tuple(str(t) for t in rule))
        for index, rule in matching_rules(state, request, stock)
    ]
    clock = now or engine.clock()
    return Explanation(
        decision=decision,
        stock=stock,
        roles=engine.roles_for(subject, subsidiary),
        role_chain=[] if state.fast is None else state.fast.role_chain(subject, subsidiary),
        matches=matches,
        facts=facts,
        failed_facts=[name for name, value in facts.items() if not fact_holds(value, clock)],
    )
