"""The policy engine: Anxin's Casbin model over `policies/`, versioned, hot-reloaded, explained.

* The version is the SHA-256 of the content of `model.conf`, `policy.csv`,
  `fields.yaml` and `catalogue.yaml`, hashed from the same bytes the rules
  are built from, so a decision's version names exactly the rules it used.
* Decisions take the fast path (`policy_fast`): the same answers as stock
  `casbin.Enforcer.enforce_ex`, matched rule included, in microseconds. Stock
  pycasbin stays available (`PolicyEngine(..., stock=True)`, `state.enforcer`)
  for the differential test and `anxin policy explain --stock`; a model the
  fast path does not implement falls back to stock.
* Reload builds a complete new state off to the side (in a worker thread, see
  `watch`) and swaps one reference: a request sees the old policy or the new
  one, never a mix. A policy that fails to load is refused and the last good
  one stays in force. Every version change and every refusal is logged and
  handed to `on_change(old_version, new_version, error)` (the service runtime
  audits it).
* Deny overrides allow. Facts the matcher cannot hold (consent, an active call,
  a valid agreement) are explicit inputs; the decision names the one that failed.
  A fact is a boolean, or a validity window checked against the engine's clock.
* Shadow mode: a candidate policy folder evaluated next to every live decision;
  differences are counted and logged, never enforced (`shadow_status()`).
* Decisions are cached per policy state, so a new version empties the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time as time_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import casbin
import yaml
from casbin import persist
from casbin.util import key_match

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.policy_fast import CompileError, FastPolicy, compile_policy, supported_model
from anxin_shared.principal import ASSURANCE_LEVELS

logger = logging.getLogger("anxin.policy")

POLICY_FILES = ("model.conf", "policy.csv", "fields.yaml", "catalogue.yaml")
VIEWS = ("plain", "masked", "hidden")
CACHE_LIMIT = 100_000

#: on_change(old_version, new_version, error): error is None for a swap, the
#: reason for a refusal (new_version is then the refused content's hash).
ChangeHook = Callable[[str | None, str | None, str | None], None]
Clock = Callable[[], datetime]


class PolicyUnavailable(DependencyUnavailable):
    """No valid policy is loaded, or the engine failed: every decision is a deny."""

    type, title = "policy-unavailable", "Policy engine unavailable"


class PolicyLoadError(ValueError):
    """The files in the policy folder do not form a valid policy."""


class _TextAdapter(persist.Adapter):  # type: ignore[misc]
    """Loads policy lines from text already read (and hashed) by the engine."""

    def __init__(self, text: str) -> None:
        self._text = text

    def load_policy(self, model: Any) -> None:
        for raw in self._text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                persist.load_policy_line(line, model)


_BRACKETS = frozenset("[]()")


def parse_policy_lines(text: str, model: Any) -> tuple[list[list[str]], list[list[str]]]:
    """The `p` and `g` rules of `policy.csv` exactly as casbin's adapter loads them.

    A line without brackets is split on its commas and each token stripped, which is
    what casbin's tokenizer does there; any other line goes through casbin itself
    (`persist.load_policy_line`). Lines of other types are ignored, as casbin does.
    The loop yields the GIL now and then, so a reload in a worker thread does not
    stall the decisions of the event loop.
    """
    p_rules: list[list[str]] = []
    g_rules: list[list[str]] = []
    for number, raw in enumerate(text.splitlines()):
        if number % 1500 == 1499:
            time_module.sleep(0)
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        if _BRACKETS.isdisjoint(line):
            tokens = [token.strip() for token in line.split(",")]
            key = tokens[0]
            if key == "p":
                p_rules.append(tokens[1:])
                continue
            if key == "g":
                g_rules.append(tokens[1:])
                continue
        before = (len(model.model["p"]["p"].policy), len(model.model["g"]["g"].policy))
        persist.load_policy_line(line, model)
        if len(model.model["p"]["p"].policy) > before[0]:
            p_rules.append(model.model["p"]["p"].policy[-1])
        elif len(model.model["g"]["g"].policy) > before[1]:
            g_rules.append(model.model["g"]["g"].policy[-1])
    return p_rules, g_rules


@dataclass(frozen=True)
class Validity:
    """A fact that holds inside a time window (e.g. a confidentiality agreement)."""

    valid_from: datetime | date | None = None
    valid_until: datetime | date | None = None

    def holds_at(self, now: datetime) -> bool:
        """Whether `now` is inside the window (a date `valid_until` includes that day)."""
        start = _instant(self.valid_from, end_of_day=False)
        end = _instant(self.valid_until, end_of_day=True)
        return (start is None or start <= now) and (end is None or now < end)


def _instant(value: datetime | date | None, *, end_of_day: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.combine(value, time(), tzinfo=UTC)
    return moment + timedelta(days=1) if end_of_day else moment


FactValue = bool | Validity | datetime | date


def fact_holds(value: FactValue, now: datetime) -> bool:
    """A boolean fact, a `Validity`, or a bare date/datetime meaning "valid until"."""
    if isinstance(value, Validity):
        return value.holds_at(now)
    if isinstance(value, datetime | date):
        return Validity(valid_until=value).holds_at(now)
    return bool(value)


class _IdPool:
    """Random 128-bit ids (32 hex digits), drawn from the OS in batches.

    `os.urandom` releases the GIL on every call; once per decision that let a
    reload thread stall decisions. One call per 1,024 ids does not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hex = ""
        self._position = 0

    def reset(self) -> None:
        """Forget the buffer (after a fork, so two processes never share ids)."""
        self._hex, self._position = "", 0

    def next(self) -> str:
        with self._lock:
            if self._position >= len(self._hex):
                self._hex, self._position = os.urandom(16 * 1024).hex(), 0
            start = self._position
            self._position = start + 32
            return self._hex[start : start + 32]


_ids = _IdPool()
os.register_at_fork(after_in_child=_ids.reset)


def _new_id() -> str:
    """A random 128-bit decision id as 32 hex digits (what `uuid4().hex` looks like)."""
    return _ids.next()


def system_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Decision:
    """The record every decision yields, and that goes into the audit event."""

    decision_id: str
    allowed: bool
    subject: str
    domain: str
    resource: str
    action: str
    assurance_level: str
    policy_version: str
    matched_rule: str | None
    reasons: tuple[str, ...]
    failed_fact: str | None = None
    field_views: Mapping[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The decision as a JSON-ready dict."""
        return {
            "decision_id": self.decision_id,
            "allowed": self.allowed,
            "subject": self.subject,
            "domain": self.domain,
            "resource": self.resource,
            "action": self.action,
            "assurance_level": self.assurance_level,
            "policy_version": self.policy_version,
            "matched_rule": self.matched_rule,
            "reasons": list(self.reasons),
            "failed_fact": self.failed_fact,
            "field_views": dict(self.field_views),
        }


def _build_stock(source: Mapping[str, str]) -> casbin.Enforcer:
    model = casbin.Enforcer.new_model(text=source["model.conf"])
    enforcer = casbin.Enforcer(model, _TextAdapter(source["policy.csv"]))
    enforcer.add_named_domain_matching_func("g", key_match)
    enforcer.build_role_links()
    return enforcer


class PolicyState:
    """One loaded, immutable version of the policy."""

    def __init__(
        self,
        version: str,
        fields: dict[str, dict[str, str]],
        catalogue: dict[str, Any],
        source: dict[str, str],
        fast: FastPolicy | None,
        enforcer: casbin.Enforcer | None = None,
    ) -> None:
        self.version = version
        self.fields = fields
        self.catalogue = catalogue
        self.source = source
        self.fast = fast
        self._enforcer = enforcer
        self._stock_lock = threading.Lock()
        self.classifications = sorted({spec["classification"] for spec in fields.values()})
        self.cache: dict[tuple[str, ...], tuple[bool, str | None]] = {}
        self.stock_cache: dict[tuple[str, ...], tuple[bool, str | None]] = {}
        self.views_cache: dict[tuple[str, str, str], dict[str, str]] = {}
        self._grants: list[tuple[str, str, str]] | None = None
        self._homes: dict[str, str] | None = None
        self._agreements: dict[str, Validity | None] | None = None

    def grants(self) -> list[tuple[str, str, str]]:
        """(subject, role, subsidiary) for every grant to a subject that is not a role."""
        if self._grants is None:
            roles = set((self.catalogue.get("roles") or {}).keys())
            self._grants = [
                (str(sub), str(role), str(dom))
                for sub, role, dom, *_ in self.g_rules
                if sub not in roles
            ]
        return self._grants

    def home_subsidiary(self, subject: str) -> str | None:
        """The subsidiary of a subject's first grant; `group` for a `*` grant."""
        if self._homes is None:
            homes: dict[str, str] = {}
            for sub, _role, dom in self.grants():
                homes.setdefault(sub, "group" if dom == "*" else dom)
            self._homes = homes
        return self._homes.get(subject)

    def agreement_windows(self) -> dict[str, Validity | None]:
        """Subjects who work only under a confidentiality agreement, and its window.

        A subject granted a role the catalogue lists in `agreement_roles` needs an
        entry in `agreements`; with none (None here) every decision for it is denied.
        """
        if self._agreements is None:
            roles = set(self.catalogue.get("agreement_roles") or ())
            entries = self.catalogue.get("agreements") or {}
            windows: dict[str, Validity | None] = {}
            for sub, role, _dom in self.grants():
                if role in roles:
                    entry = entries.get(sub)
                    windows[sub] = (
                        Validity(entry["valid_from"], entry["valid_until"]) if entry else None
                    )
            self._agreements = windows
        return self._agreements

    @property
    def enforcer(self) -> casbin.Enforcer:
        """Stock pycasbin on the same files, built on first use."""
        if self._enforcer is None:
            with self._stock_lock:
                if self._enforcer is None:
                    self._enforcer = _build_stock(self.source)
        return self._enforcer

    @property
    def p_rules(self) -> list[list[str]]:
        """The `p` rules in file order, as casbin parsed them."""
        if self.fast is not None:
            return [[r.sub, r.dom, r.obj, r.act, r.lvl, r.eft] for r in self.fast.rules]
        return [list(rule) for rule in self.enforcer.get_policy()]

    @property
    def g_rules(self) -> list[list[str]]:
        """The `g` rules in file order, as casbin parsed them."""
        if self.fast is not None:
            return [list(rule) for rule in self.fast.grouping]
        return [list(rule) for rule in self.enforcer.get_named_grouping_policy("g")]


def read_policy_files(policies_dir: Path) -> dict[str, str]:
    """The text of each policy file; a missing file is a load error."""
    source = {}
    for name in POLICY_FILES:
        path = policies_dir / name
        try:
            source[name] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyLoadError(f"{path}: {exc.strerror}") from exc
    return source


def policy_version(source: Mapping[str, str]) -> str:
    """The content hash that names a policy version (first 16 hex digits of SHA-256)."""
    digest = hashlib.sha256()
    for name in POLICY_FILES:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(source[name].encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def build_state(source: Mapping[str, str], *, stock: bool = False) -> PolicyState:
    """Build a complete policy state from file contents, or raise `PolicyLoadError`.

    The rules are parsed by casbin's own model parser and line tokenizer, then
    compiled for the fast path; `stock=True` also builds the stock enforcer now
    (otherwise it is built on first use).
    """
    try:
        model = casbin.Enforcer.new_model(text=source["model.conf"])
        fast: FastPolicy | None = None
        enforcer: casbin.Enforcer | None = None
        fields_doc = yaml.safe_load(source["fields.yaml"]) or {}
        catalogue = yaml.safe_load(source["catalogue.yaml"]) or {}
        fields = fields_doc.get("fields") if isinstance(fields_doc, dict) else None
        if not isinstance(fields, dict) or not fields:
            raise PolicyLoadError("fields.yaml: no `fields` mapping")
        for name, spec in fields.items():
            if not isinstance(spec, dict) or not spec.get("classification") or not spec.get("mask"):
                raise PolicyLoadError(f"fields.yaml: {name} needs a classification and a mask")
        classifications = sorted({str(spec["classification"]) for spec in fields.values()})
        if supported_model(model):
            p_rules, g_rules = parse_policy_lines(source["policy.csv"], model)
            fast = compile_policy(p_rules, g_rules, classifications)
        else:
            logger.warning("policy model is not Anxin's; decisions use stock pycasbin (slow)")
        if fast is None or stock:
            enforcer = _build_stock(source)
    except PolicyLoadError:
        raise
    except CompileError as exc:
        raise PolicyLoadError(f"policy.csv: {exc}") from exc
    except Exception as exc:
        raise PolicyLoadError(f"policy does not load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(catalogue, dict):
        raise PolicyLoadError("catalogue.yaml: not a mapping")
    _check_agreements(catalogue)
    return PolicyState(
        version=policy_version(source),
        fields={str(k): {str(a): str(b) for a, b in v.items()} for k, v in fields.items()},
        catalogue=catalogue,
        source=dict(source),
        fast=fast,
        enforcer=enforcer,
    )


def _check_agreements(catalogue: dict[str, Any]) -> None:
    """Each agreement needs a reference and a window of dates; anything else refuses the load."""
    roles = catalogue.get("agreement_roles") or []
    entries = catalogue.get("agreements") or {}
    if not isinstance(roles, list) or not isinstance(entries, dict):
        raise PolicyLoadError("catalogue.yaml: agreement_roles is a list, agreements a mapping")
    for subject, entry in entries.items():
        if not isinstance(entry, dict) or not entry.get("reference"):
            raise PolicyLoadError(f"catalogue.yaml: agreement of {subject} needs a reference")
        for key in ("valid_from", "valid_until"):
            if not isinstance(entry.get(key), date):
                raise PolicyLoadError(
                    f"catalogue.yaml: agreement of {subject} needs {key} as a date (YYYY-MM-DD)"
                )
        if entry["valid_until"] < entry["valid_from"]:
            raise PolicyLoadError(f"catalogue.yaml: agreement of {subject} ends before it starts")


@dataclass
class ShadowStats:
    """What shadow mode has seen: decisions compared and how many differed."""

    compared: int = 0
    differences: int = 0
    logged: set[tuple[str, ...]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class PolicyEngine:
    """Decides (subject, subsidiary, resource, action, level) on the loaded policy."""

    def __init__(
        self,
        policies_dir: Path,
        *,
        stock: bool = False,
        clock: Clock | None = None,
        on_change: ChangeHook | None = None,
        shadow_dir: Path | None = None,
    ) -> None:
        self.policies_dir = Path(policies_dir)
        self.stock = stock
        self.clock: Clock = clock or system_clock
        self.on_change = on_change
        self._state: PolicyState | None = None
        self._reload_lock = threading.Lock()
        self._refused: str | None = None
        self.last_error: str | None = None
        self.shadow: PolicyEngine | None = (
            PolicyEngine(shadow_dir, stock=stock, clock=clock) if shadow_dir else None
        )
        self.shadow_stats = ShadowStats()

    # -- loading ---------------------------------------------------------------
    def _notify(self, old: str | None, new: str | None, error: str | None) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(old, new, error)
        except Exception:
            logger.exception("policy change hook failed")

    def load(self) -> str:
        """Load the policy folder now; raise `PolicyLoadError` if it is invalid."""
        old = self.version
        candidate: str | None = None
        try:
            source = read_policy_files(self.policies_dir)
            candidate = policy_version(source)
            state = build_state(source, stock=self.stock)
        except PolicyLoadError as exc:
            self.last_error = str(exc)
            self._refused = candidate
            logger.error("policy refused, keeping %s: %s", old, exc)
            self._notify(old, candidate, str(exc))
            raise
        self._swap(old, state)
        if self.shadow is not None:
            try:
                self.shadow.load()
            except PolicyLoadError:
                logger.error("shadow policy in %s does not load", self.shadow.policies_dir)
        return state.version

    def _swap(self, old: str | None, state: PolicyState) -> None:
        self._state = state
        self.last_error = None
        self._refused = None
        logger.info("policy %s in force (was %s), from %s", state.version, old, self.policies_dir)
        if old != state.version:
            self._notify(old, state.version, None)

    def reload_if_changed(self) -> bool:
        """Swap in the folder's policy if its content changed; keep the old one if invalid.

        Blocking (reads files, compiles rules): call it from a worker thread.
        A refused version is reported once and not rebuilt until the files change.
        """
        with self._reload_lock:
            if self.shadow is not None:
                self.shadow.reload_if_changed()
            old = self.version
            candidate: str | None = None
            try:
                source = read_policy_files(self.policies_dir)
                candidate = policy_version(source)
                if candidate == old:
                    if self.last_error:
                        logger.info("policy folder is back to %s, the version in force", old)
                        self.last_error, self._refused = None, None
                    return False
                if candidate == self._refused and self.last_error:
                    return False
                state = build_state(source, stock=self.stock)
            except PolicyLoadError as exc:
                if self.last_error != str(exc) or candidate != self._refused:
                    logger.error("policy reload refused, keeping %s: %s", old, exc)
                    self._notify(old, candidate, str(exc))
                self.last_error = str(exc)
                self._refused = candidate
                return False
            self._swap(old, state)
            return True

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the folder and hot-reload on change (off the event loop), until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload_if_changed)

    @property
    def state(self) -> PolicyState:
        """The policy in force; raises `PolicyUnavailable` when none is loaded."""
        if self._state is None:
            raise PolicyUnavailable("no policy is loaded")
        return self._state

    @property
    def loaded(self) -> bool:
        """Whether a valid policy is in force."""
        return self._state is not None

    @property
    def version(self) -> str | None:
        """The version in force, if any."""
        return self._state.version if self._state else None

    # -- decisions -------------------------------------------------------------
    def _enforce(
        self, state: PolicyState, sub: str, dom: str, obj: str, act: str, lvl: str
    ) -> tuple[bool, str | None]:
        key = (sub, dom, obj, act, lvl)
        hit = state.cache.get(key)
        if hit is not None:
            return hit
        fast = state.fast
        if fast is not None and not self.stock:
            answer = fast.enforce_uncached(sub, dom, obj, act, lvl)
            result = (answer.allowed, fast.rule_text(answer))
        else:
            result = self._stock_enforce(state, sub, dom, obj, act, lvl)
        if len(state.cache) > CACHE_LIMIT:
            state.cache.clear()
        state.cache[key] = result
        return result

    @staticmethod
    def _stock_enforce(
        state: PolicyState, sub: str, dom: str, obj: str, act: str, lvl: str
    ) -> tuple[bool, str | None]:
        try:
            allowed, explain = state.enforcer.enforce_ex(sub, dom, obj, act, lvl)
        except Exception as exc:
            raise PolicyUnavailable("the policy engine failed") from exc
        return bool(allowed), (", ".join(explain) if explain else None)

    def enforce(
        self, sub: str, dom: str, obj: str, act: str, lvl: str, *, stock: bool | None = None
    ) -> tuple[bool, str | None]:
        """The raw Casbin answer (allowed, matched rule), fast path unless `stock`."""
        state = self.state
        if stock or (stock is None and self.stock) or state.fast is None:
            return self._stock_enforce(state, sub, dom, obj, act, lvl)
        return self._enforce(state, sub, dom, obj, act, lvl)

    def decide(
        self,
        subject: str,
        domain: str,
        resource: str,
        action: str,
        assurance_level: str = "L0",
        facts: Mapping[str, FactValue] | None = None,
        with_field_views: bool = False,
        now: datetime | None = None,
    ) -> Decision:
        """Decide one request and explain it. Any doubt is a deny.

        `facts` are checked, in order, only when the policy allows: a boolean, or
        a `Validity`/date/datetime (valid until) checked at `now` (default: the
        engine's clock).
        """
        state = self.state
        level = assurance_level if assurance_level in ASSURANCE_LEVELS else "L0"
        allowed, rule = self._enforce(state, subject, domain, resource, action, level)
        reasons: list[str] = []
        failed: str | None = None
        if allowed:
            reasons.append(f"allowed by rule: {rule}")
            if facts:
                for fact, value in facts.items():
                    if isinstance(value, bool):
                        holds = value
                    else:
                        holds = fact_holds(value, now or self.clock())
                    if not holds:
                        allowed, failed = False, fact
                        reasons.append(f"required fact not satisfied: {fact}")
                        break
            agreements = state.agreement_windows()
            if allowed and subject in agreements:
                window = agreements[subject]
                if window is None or not window.holds_at(now or self.clock()):
                    allowed, failed = False, "agreement"
                    reasons.append("no confidentiality agreement in force for this subject")
        elif rule and rule.endswith("deny"):
            failed = "policy"
            reasons.append(f"denied by rule: {rule}")
        else:
            needed = self._level_needed(state, subject, domain, resource, action, level)
            if needed:
                failed = "assurance_level"
                reasons.append(f"requires assurance level {needed}, call is at {level}")
            else:
                failed = "policy"
                reasons.append("no rule grants this role this action in this subsidiary")
        views = self._views(state, subject, domain, level) if allowed and with_field_views else {}
        if self.shadow is not None:
            self._compare_shadow(state, subject, domain, resource, action, level, with_field_views)
        return Decision(
            decision_id=_new_id(),
            allowed=allowed,
            subject=subject,
            domain=domain,
            resource=resource,
            action=action,
            assurance_level=level,
            policy_version=state.version,
            matched_rule=rule,
            reasons=tuple(reasons),
            failed_fact=failed,
            field_views=dict(views),
        )

    def _level_needed(
        self, state: PolicyState, sub: str, dom: str, obj: str, act: str, level: str
    ) -> str | None:
        higher_levels = ASSURANCE_LEVELS[ASSURANCE_LEVELS.index(level) + 1 :]
        if state.fast is not None and not self.stock:
            return state.fast.first_allowed_level(sub, dom, obj, act, higher_levels)
        for higher in higher_levels:
            if self._enforce(state, sub, dom, obj, act, higher)[0]:
                return higher
        return None

    def _views(self, state: PolicyState, subject: str, domain: str, level: str) -> dict[str, str]:
        key = (subject, domain, level)
        views = state.views_cache.get(key)
        if views is not None:
            return views
        if state.fast is not None and not self.stock:
            views = state.fast.views(subject, domain, level)
        else:
            views = {}
            for classification in state.classifications:
                if self._enforce(state, subject, domain, classification, "view.plain", level)[0]:
                    views[classification] = "plain"
                elif self._enforce(state, subject, domain, classification, "view.masked", level)[0]:
                    views[classification] = "masked"
                else:
                    views[classification] = "hidden"
        if len(state.views_cache) > CACHE_LIMIT:
            state.views_cache.clear()
        state.views_cache[key] = views
        return views

    def field_views(self, subject: str, domain: str, assurance_level: str) -> dict[str, str]:
        """The view (plain, masked, hidden) of every classification for this caller."""
        return dict(self._views(self.state, subject, domain, assurance_level))

    # -- shadow mode -----------------------------------------------------------
    def _compare_shadow(
        self,
        live: PolicyState,
        sub: str,
        dom: str,
        obj: str,
        act: str,
        lvl: str,
        with_views: bool,
    ) -> None:
        """Evaluate the candidate policy on the same request; count and log differences."""
        shadow = self.shadow
        if shadow is None or shadow._state is None:
            return
        try:
            candidate = shadow._state
            live_answer = self._enforce(live, sub, dom, obj, act, lvl)
            shadow_answer = shadow._enforce(candidate, sub, dom, obj, act, lvl)
            differs = live_answer[0] != shadow_answer[0]
            what = "decision"
            if not differs and with_views and live_answer[0]:
                differs = self._views(live, sub, dom, lvl) != shadow._views(
                    candidate, sub, dom, lvl
                )
                what = "field views"
        except Exception:
            logger.exception("shadow policy evaluation failed")
            return
        stats = self.shadow_stats
        with stats.lock:
            stats.compared += 1
            if not differs:
                return
            stats.differences += 1
            key = (candidate.version, sub, dom, obj, act, lvl, what)
            first = key not in stats.logged and len(stats.logged) < 10_000
            if first:
                stats.logged.add(key)
        if first:
            logger.warning(
                "shadow policy %s differs from live %s on %s: %s %s %s %s %s (live %s, shadow %s)",
                candidate.version,
                live.version,
                what,
                sub,
                dom,
                obj,
                act,
                lvl,
                "allow" if live_answer[0] else "deny",
                "allow" if shadow_answer[0] else "deny",
            )

    def shadow_status(self) -> dict[str, Any] | None:
        """Shadow mode's counters for `/readyz`, or None when no candidate is configured."""
        if self.shadow is None:
            return None
        stats = self.shadow_stats
        return {
            "policies_dir": str(self.shadow.policies_dir),
            "version": self.shadow.version,
            "error": self.shadow.last_error,
            "compared": stats.compared,
            "differences": stats.differences,
        }

    # -- introspection -----------------------------------------------------------
    def roles_for(self, subject: str, domain: str) -> list[str]:
        """Roles `subject` holds in `domain`, inherited ones included."""
        state = self.state
        if state.fast is not None and not self.stock:
            return sorted(state.fast.implicit_roles(subject, domain))
        return sorted(state.enforcer.get_implicit_roles_for_user(subject, domain))

    def grants(self) -> list[tuple[str, str, str]]:
        """(subject, role, subsidiary) for every grant to a subject that is not a role."""
        return list(self.state.grants())

    def home_subsidiary(self, subject: str) -> str | None:
        """The subsidiary of a subject's first grant; `group` for a `*` grant."""
        return self.state.home_subsidiary(subject)
