"""The fast decision path: stock pycasbin's answers for Anxin's model, in microseconds.

Stock `casbin.Enforcer.enforce_ex` evaluates the matcher of `policies/model.conf`
against every `p` rule in order, and asks the domain role manager for each
`g(r.sub, p.sub, r.dom)`. This module compiles the same parsed rules (casbin's
own model parser and line tokenizer load them) into indexes that give the same
answer without the scan:

* **Roles.** `g(sub, role, dom)` in stock is a breadth-first search, at most 10
  levels (distances 0–9), over the links whose domain equals `dom` or whose
  domain pattern `key_match`es it (`*` matches every domain). Here a subject's
  *profile* in a domain is the set of names some `p` rule names that it reaches
  within distance 9: itself (distance 0, as in stock: `g(x, x, dom)` is true for
  any `x`) plus, for each role it is granted directly, what that role reaches
  within distance 8 (memoized per role and domain, shared by every subject).
* **Rules.** Indexed by (p.dom, p.act) with literal `*` buckets (the matcher's
  `p.dom == "*"` and `p.act == "*"` are literal comparisons), then by exact
  object or `keyMatch` prefix (stock `key_match` only looks at what comes before
  the first `*`). For a (domain, object, action) the matching rules are grouped
  by `p.sub` once (memoized); a decision keeps those of its profile and compares
  `r.lvl >= p.lvl` as strings, as the matcher does.
* **Effect.** The model's effect is allow-and-deny with stock's early break:
  the first matching `deny` (lowest line) ends the scan and is the rule
  `enforce_ex` explains; without a deny, the answer is whether any matching rule
  says `allow`, and the explained rule is the *last* matching rule (stock
  updates its explain index on every match, whatever the `eft`).
* **Field views.** Per rule subject, domain and level, four bit masks over the
  classifications (allowed / denied, plain / masked); a caller's views are the
  OR over its profile: the same answers as enforcing `view.plain`, then
  `view.masked`, for each classification.
* **Caches** live in the compiled policy, so a new policy version starts with
  empty caches and an old one is dropped with its caches.

Where stock is stricter or looser: a `p` line with the wrong number of fields
makes stock raise at decision time (unless a deny matched earlier); here it is
refused when the policy loads (`CompileError`). A model that is not exactly
Anxin's is not compiled (`supported_model` is false) and the engine falls back
to stock. `shared/tests/test_policy_fast_equivalence.py` proves the rest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_HIERARCHY_LEVEL = 10  # casbin's DomainManager(10): distances 0..9
CACHE_LIMIT = 200_000

# The parts of the model this compiler implements, as casbin holds them after parsing.
REQUEST_TOKENS = ["r_sub", "r_dom", "r_obj", "r_act", "r_lvl"]
POLICY_TOKENS = ["p_sub", "p_dom", "p_obj", "p_act", "p_lvl", "p_eft"]
MATCHER = (
    'g(r_sub, p_sub, r_dom) && (p_dom == "*" || r_dom == p_dom) && keyMatch(r_obj, p_obj)'
    ' && (p_act == "*" || r_act == p_act) && r_lvl >= p_lvl'
)
EFFECT = "some(where (p_eft == allow)) && !some(where (p_eft == deny))"
_SPACE = re.compile(r"\s+")


class CompileError(ValueError):
    """The parsed rules cannot be compiled (stock would fail on them too)."""


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def supported_model(model: Any) -> bool:
    """Whether a parsed casbin model is exactly the one this compiler implements."""
    try:
        sections = {key: sorted(model.model[key].keys()) for key in model.model}
        if sections != {"r": ["r"], "p": ["p"], "g": ["g"], "e": ["e"], "m": ["m"]}:
            return False
        g = model.model["g"]["g"]
        return bool(
            list(model.model["r"]["r"].tokens) == REQUEST_TOKENS
            and list(model.model["p"]["p"].tokens) == POLICY_TOKENS
            and _squash(g.value) == "_,_,_"
            and not getattr(g, "params_tokens", None)
            and _squash(model.model["e"]["e"].value) == _squash(EFFECT)
            and _squash(model.model["m"]["m"].value) == _squash(MATCHER)
        )
    except (KeyError, AttributeError, TypeError):
        return False


def key_match(key1: str, key2: str) -> bool:
    """casbin's `keyMatch`: `key2` up to its first `*` is a prefix of `key1`."""
    star = key2.find("*")
    if star == -1:
        return key1 == key2
    return key1.startswith(key2[:star])


@dataclass(frozen=True)
class Rule:
    """One `p` line as casbin parsed it, with its position in the policy."""

    index: int
    sub: str
    dom: str
    obj: str
    act: str
    lvl: str
    eft: str

    @property
    def text(self) -> str:
        """The rule as `enforce_ex` returns it, joined with ", "."""
        return ", ".join((self.sub, self.dom, self.obj, self.act, self.lvl, self.eft))


class _Index:
    """The rules of one (p.dom, p.act): by exact object, and by `keyMatch` prefix."""

    __slots__ = ("exact", "lengths", "prefixes")

    def __init__(self) -> None:
        self.exact: dict[str, list[tuple[str, int, str, str]]] = {}
        self.prefixes: dict[str, list[tuple[str, int, str, str]]] = {}
        self.lengths: tuple[int, ...] = ()

    def add(self, rule: Rule) -> None:
        item = (rule.sub, rule.index, rule.lvl, rule.eft)
        star = rule.obj.find("*")
        if star == -1:
            self.exact.setdefault(rule.obj, []).append(item)
        else:
            self.prefixes.setdefault(rule.obj[:star], []).append(item)
            self.lengths = tuple(sorted({*self.lengths, star}))


Candidates = tuple[tuple[int, str, str], ...]  # (rule index, p.lvl, p.eft)
BySubject = dict[str, Candidates]
_EMPTY: BySubject = {}


class _Merged:
    """Every rule a request (dom, act) can match — (dom|*, act|*) — by object, then p.sub."""

    __slots__ = ("exact", "lengths", "prefixes")

    def __init__(self, sources: list[_Index]) -> None:
        exact: dict[str, dict[str, list[tuple[int, str, str]]]] = {}
        prefixes: dict[str, dict[str, list[tuple[int, str, str]]]] = {}
        lengths: set[int] = set()
        for source in sources:
            for obj, items in source.exact.items():
                by_sub = exact.setdefault(obj, {})
                for sub, rule, lvl, eft in items:
                    by_sub.setdefault(sub, []).append((rule, lvl, eft))
            for prefix, items in source.prefixes.items():
                lengths.add(len(prefix))
                by_sub = prefixes.setdefault(prefix, {})
                for sub, rule, lvl, eft in items:
                    by_sub.setdefault(sub, []).append((rule, lvl, eft))
        self.exact: dict[str, BySubject] = {
            obj: {sub: tuple(items) for sub, items in by_sub.items()}
            for obj, by_sub in exact.items()
        }
        self.prefixes: dict[str, BySubject] = {
            prefix: {sub: tuple(items) for sub, items in by_sub.items()}
            for prefix, by_sub in prefixes.items()
        }
        self.lengths = tuple(sorted(lengths))
        # Fold the patterns into every exact object they match, so a request for a
        # known object is one lookup.
        for obj in list(self.exact):
            matched = [
                self.prefixes[obj[:length]]
                for length in self.lengths
                if length <= len(obj) and obj[:length] in self.prefixes
            ]
            if matched:
                combined: dict[str, list[tuple[int, str, str]]] = {}
                for part in [self.exact[obj], *matched]:
                    for sub, candidates in part.items():
                        combined.setdefault(sub, []).extend(candidates)
                self.exact[obj] = {sub: tuple(found) for sub, found in combined.items()}


@dataclass(frozen=True)
class Answer:
    """What `enforce_ex` returns: the boolean and the index of the explained rule."""

    allowed: bool
    rule: int | None


def _evaluate(candidates: Iterable[tuple[int, str, str]], lvl: str) -> Answer:
    """Stock's effect over the rules matching all but the level, in policy order."""
    first_deny: int | None = None
    last_match = -1
    allow = False
    for index, rule_lvl, eft in candidates:
        if not lvl >= rule_lvl:
            continue
        if eft == "deny":
            if first_deny is None or index < first_deny:
                first_deny = index
        elif eft == "allow":
            allow = True
        if index > last_match:
            last_match = index
    if first_deny is not None:
        return Answer(False, first_deny)
    return Answer(allow, last_match if last_match >= 0 else None)


def _bounded_set(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    cache[key] = value


@dataclass
class FastPolicy:
    """A compiled policy: stock's answers from indexes and per-version caches."""

    rules: list[Rule]
    grouping: list[list[str]]
    _index: dict[tuple[str, str], _Index]
    _links: dict[str, dict[str, list[str]]]
    _star_domains: list[tuple[str, str]]
    _rule_subjects: frozenset[str]
    classifications: list[str] = field(default_factory=list)
    _view_rules: dict[tuple[str, str], list[tuple[str, str, bool, bool, int]]] = field(
        default_factory=dict
    )
    _graphs_cache: dict[str, list[dict[str, list[str]]]] = field(default_factory=dict)
    _role_reach: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _profiles: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _merged: dict[tuple[str, str], _Merged] = field(default_factory=dict)
    _request_rules: dict[tuple[str, str, str], BySubject] = field(default_factory=dict)
    _requests: dict[tuple[str, str, str, str, str], Answer] = field(default_factory=dict)
    _views: dict[tuple[Any, ...], dict[str, str]] = field(default_factory=dict)
    _view_mask_cache: dict[tuple[str, str, str], tuple[int, int, int, int]] = field(
        default_factory=dict
    )
    _view_dicts: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)
    _view_subjects: frozenset[str] = frozenset()

    # -- roles -----------------------------------------------------------------
    def _graphs(self, dom: str) -> list[dict[str, list[str]]]:
        """The link graphs stock's role manager for `dom` is built from."""
        graphs = self._graphs_cache.get(dom)
        if graphs is None:
            graphs = []
            exact = self._links.get(dom)
            if exact is not None:
                graphs.append(exact)
            for pattern, prefix in self._star_domains:
                if pattern != dom and dom.startswith(prefix):
                    graphs.append(self._links[pattern])
            _bounded_set(self._graphs_cache, dom, graphs)
        return graphs

    def reachable(self, sub: str, dom: str, limit: int = MAX_HIERARCHY_LEVEL) -> dict[str, int]:
        """Every name `g(sub, name, dom)` holds for, with its distance (0 = itself)."""
        graphs = self._graphs(dom)
        seen = {sub: 0}
        frontier = [sub]
        depth = 0
        while frontier and depth < limit - 1:
            depth += 1
            following = []
            for name in frontier:
                for graph in graphs:
                    for role in graph.get(name, ()):
                        if role not in seen:
                            seen[role] = depth
                            following.append(role)
            frontier = following
        return seen

    def _reach_of_role(self, role: str, dom: str) -> frozenset[str]:
        """Rule subjects within distance 8 of a directly granted role (9 from the subject)."""
        key = (role, dom)
        found = self._role_reach.get(key)
        if found is None:
            found = self._rule_subjects.intersection(
                self.reachable(role, dom, MAX_HIERARCHY_LEVEL - 1)
            )
            _bounded_set(self._role_reach, key, found)
        return found

    def profile(self, sub: str, dom: str) -> frozenset[str]:
        """The `p` subjects `sub` holds in `dom` (itself included when rules name it)."""
        key = (sub, dom)
        found = self._profiles.get(key)
        if found is None:
            names: set[str] = {sub} if sub in self._rule_subjects else set()
            for graph in self._graphs(dom):
                for role in graph.get(sub, ()):
                    names |= self._reach_of_role(role, dom)
            found = frozenset(names)
            _bounded_set(self._profiles, key, found)
        return found

    def implicit_roles(self, sub: str, dom: str) -> list[str]:
        """What stock `get_implicit_roles_for_user(sub, dom)` returns (no depth limit)."""
        graphs = self._graphs(dom)
        found: list[str] = []
        seen: set[str] = set()
        queue = [sub]
        while queue:
            name = queue.pop(0)
            for graph in graphs:
                for role in dict.fromkeys(graph.get(name, ())):
                    if role not in seen:
                        seen.add(role)
                        found.append(role)
                        queue.append(role)
        return found

    def role_chain(self, sub: str, dom: str) -> list[tuple[str, str, str]]:
        """The links (name, role, link domain) by which `sub` holds its roles in `dom`."""
        chain: list[tuple[str, str, str]] = []
        seen = {sub}
        frontier = [sub]
        depth = 0
        patterns = [p for p, prefix in self._star_domains if p != dom and dom.startswith(prefix)]
        doms = ([dom] if dom in self._links else []) + patterns
        while frontier and depth < MAX_HIERARCHY_LEVEL - 1:
            depth += 1
            following = []
            for name in frontier:
                for link_dom in doms:
                    for role in self._links[link_dom].get(name, ()):
                        chain.append((name, role, link_dom))
                        if role not in seen:
                            seen.add(role)
                            following.append(role)
            frontier = following
        return list(dict.fromkeys(chain))

    # -- decisions -------------------------------------------------------------
    def merged(self, dom: str, act: str) -> _Merged:
        """The merged index of a request (dom, act); built at compile for known pairs."""
        key = (dom, act)
        found = self._merged.get(key)
        if found is None:
            sources = [
                self._index[(pdom, pact)]
                for pdom in ((dom,) if dom == "*" else (dom, "*"))
                for pact in ((act,) if act == "*" else (act, "*"))
                if (pdom, pact) in self._index
            ]
            found = _Merged(sources)
            _bounded_set(self._merged, key, found)
        return found

    def rules_for(self, dom: str, obj: str, act: str) -> BySubject:
        """Rules matching (dom, obj, act), whatever the subject and level, by `p.sub`."""
        merged = self._merged.get((dom, act)) or self.merged(dom, act)
        exact = merged.exact.get(obj)
        if exact is not None or not merged.lengths:
            return exact or _EMPTY  # exact entries already hold the patterns they match
        prefixes = merged.prefixes
        matched = [
            prefixes[obj[:length]]
            for length in merged.lengths
            if length <= len(obj) and obj[:length] in prefixes
        ]
        if not matched:
            return exact or _EMPTY
        if not exact and len(matched) == 1:
            return matched[0]
        key = (dom, obj, act)
        found = self._request_rules.get(key)
        if found is None:
            combined: dict[str, list[tuple[int, str, str]]] = {}
            for part in ([exact] if exact else []) + matched:
                for sub, items in part.items():
                    combined.setdefault(sub, []).extend(items)
            found = {sub: tuple(items) for sub, items in combined.items()}
            _bounded_set(self._request_rules, key, found)
        return found

    @staticmethod
    def _candidates(profile: frozenset[str], by_sub: BySubject) -> Candidates:
        if len(by_sub) == 1:
            ((sub, items),) = by_sub.items()
            return items if sub in profile else ()
        found: list[tuple[int, str, str]] = []
        for sub, items in by_sub.items():
            if sub in profile:
                found.extend(items)
        return tuple(found)

    def enforce_uncached(self, sub: str, dom: str, obj: str, act: str, lvl: str) -> Answer:
        """`enforce` without the per-request cache (the caller keeps its own)."""
        by_sub = self.rules_for(dom, obj, act)
        if not by_sub:
            return Answer(False, None)
        return _evaluate(self._candidates(self.profile(sub, dom), by_sub), lvl)

    def enforce(self, sub: str, dom: str, obj: str, act: str, lvl: str) -> Answer:
        """Stock `enforce_ex(sub, dom, obj, act, lvl)`, as (allowed, explained rule index)."""
        key = (sub, dom, obj, act, lvl)
        answer = self._requests.get(key)
        if answer is None:
            answer = self.enforce_uncached(sub, dom, obj, act, lvl)
            _bounded_set(self._requests, key, answer)
        return answer

    def first_allowed_level(
        self, sub: str, dom: str, obj: str, act: str, levels: Sequence[str]
    ) -> str | None:
        """The first of `levels` at which the request is allowed (one index pass)."""
        by_sub = self.rules_for(dom, obj, act)
        if not by_sub:
            return None
        candidates = self._candidates(self.profile(sub, dom), by_sub)
        for level in levels:
            if _evaluate(candidates, level).allowed:
                return level
        return None

    def matching(self, sub: str, dom: str, obj: str, act: str, lvl: str) -> list[Rule]:
        """Every rule whose matcher holds for this request, in policy order."""
        candidates = self._candidates(self.profile(sub, dom), self.rules_for(dom, obj, act))
        return [self.rules[index] for index, rule_lvl, _ in sorted(candidates) if lvl >= rule_lvl]

    def rule_text(self, answer: Answer) -> str | None:
        """The explained rule as `", ".join(explain)`, or None."""
        return None if answer.rule is None else self.rules[answer.rule].text

    # -- field views -------------------------------------------------------------
    def _view_masks(self, name: str, dom: str, lvl: str) -> tuple[int, int, int, int]:
        """(allow plain, deny plain, allow masked, deny masked) bits of one rule subject
        in a request domain: its rules for that domain and for `*`."""
        key = (name, dom, lvl)
        masks = self._view_mask_cache.get(key)
        if masks is None:
            allow_plain = deny_plain = allow_masked = deny_masked = 0
            for pdom in (dom,) if dom == "*" else (dom, "*"):
                for rule_lvl, eft, plain, masked, mask in self._view_rules.get((name, pdom), ()):
                    if not lvl >= rule_lvl:
                        continue
                    if eft == "allow":
                        if plain:
                            allow_plain |= mask
                        if masked:
                            allow_masked |= mask
                    elif eft == "deny":
                        if plain:
                            deny_plain |= mask
                        if masked:
                            deny_masked |= mask
            masks = (allow_plain, deny_plain, allow_masked, deny_masked)
            _bounded_set(self._view_mask_cache, key, masks)
        return masks

    def views(self, sub: str, dom: str, lvl: str) -> dict[str, str]:
        """plain / masked / hidden per classification: `view.plain` allowed, else
        `view.masked` allowed, else hidden — the same answers as enforcing each."""
        profile = self.profile(sub, dom)
        key = (profile, dom, lvl)
        views = self._views.get(key)
        if views is not None:
            return views
        allow_plain = deny_plain = allow_masked = deny_masked = 0
        cache = self._view_mask_cache
        for name in profile & self._view_subjects:
            masks = cache.get((name, dom, lvl)) or self._view_masks(name, dom, lvl)
            allow_plain |= masks[0]
            deny_plain |= masks[1]
            allow_masked |= masks[2]
            deny_masked |= masks[3]
        plain_bits = allow_plain & ~deny_plain
        masked_bits = allow_masked & ~deny_masked & ~plain_bits
        views = self._view_dicts.get((plain_bits, masked_bits))
        if views is None:
            views = {
                name: "plain"
                if plain_bits >> i & 1
                else "masked"
                if masked_bits >> i & 1
                else "hidden"
                for i, name in enumerate(self.classifications)
            }
            self._view_dicts[(plain_bits, masked_bits)] = views
        _bounded_set(self._views, key, views)
        return views


def compile_policy(
    p_rules: Sequence[Sequence[str]],
    g_rules: Sequence[Sequence[str]],
    classifications: Sequence[str] = (),
) -> FastPolicy:
    """Compile casbin-parsed `p` and `g` rules (in file order) for the supported model.

    `classifications` (sorted, as `PolicyState.classifications`) get a view table:
    each `view.plain` / `view.masked` / `*` rule with the bit mask of the
    classifications its object pattern `keyMatch`es.
    """
    rules: list[Rule] = []
    index: dict[tuple[str, str], _Index] = {}
    for position, tokens in enumerate(p_rules):
        if position % 2000 == 1999:
            time.sleep(0)
        if len(tokens) != len(POLICY_TOKENS):
            raise CompileError(
                f"p rule {position + 1} has {len(tokens)} fields,"
                f" the model needs {len(POLICY_TOKENS)}"
            )
        rule = Rule(position, *(str(token) for token in tokens))
        rules.append(rule)
        key = (rule.dom, rule.act)
        bucket = index.get(key)
        if bucket is None:
            bucket = index[key] = _Index()
        bucket.add(rule)
    view_rules: dict[tuple[str, str], list[tuple[str, str, bool, bool, int]]] = {}
    for rule in rules:
        plain = rule.act in ("view.plain", "*")
        masked = rule.act in ("view.masked", "*")
        if not (plain or masked):
            continue
        mask = 0
        for bit, name in enumerate(classifications):
            if key_match(name, rule.obj):
                mask |= 1 << bit
        if mask:
            view_rules.setdefault((rule.sub, rule.dom), []).append(
                (rule.lvl, rule.eft, plain, masked, mask)
            )
    links: dict[str, dict[str, list[str]]] = {}
    grouping: list[list[str]] = []
    for position, tokens in enumerate(g_rules):
        if position % 6000 == 5999:
            time.sleep(0)  # let the decisions of other threads run during a reload
        if len(tokens) < 3:
            raise CompileError("grouping policy elements do not meet role definition")
        grouping.append(tokens if isinstance(tokens, list) else list(tokens))
        dom = tokens[2]
        graph = links.get(dom)
        if graph is None:
            graph = links[dom] = {}
        roles = graph.get(tokens[0])
        if roles is None:
            graph[tokens[0]] = [tokens[1]]
        else:
            roles.append(tokens[1])
    star_domains = [(dom, dom[: dom.find("*")]) for dom in links if "*" in dom]
    compiled = FastPolicy(
        rules=rules,
        grouping=grouping,
        _index=index,
        _links=links,
        _star_domains=star_domains,
        _rule_subjects=frozenset(rule.sub for rule in rules),
        classifications=list(classifications),
        _view_rules=view_rules,
        _view_subjects=frozenset(sub for sub, _dom in view_rules),
    )
    # Merged indexes for every (subsidiary, action) the rules and grants name, and the
    # view masks of every view-rule subject there at every level the view rules name.
    domains = [dom for dom in {rule.dom for rule in rules} | set(links) if "*" not in dom]
    actions = [act for act in {rule.act for rule in rules} if act != "*"]
    view_levels = {lvl for entries in view_rules.values() for lvl, *_ in entries}
    for dom in domains:
        for act in actions:
            compiled.merged(dom, act)
        time.sleep(0)
        for name in compiled._view_subjects:
            for lvl in view_levels:
                compiled._view_masks(name, dom, lvl)
    return compiled
