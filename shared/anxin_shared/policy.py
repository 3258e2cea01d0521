"""The policy engine: pycasbin over `policies/`, versioned, hot-reloaded, explained.

* The version is the SHA-256 of the content of `model.conf`, `policy.csv`,
  `fields.yaml` and `catalogue.yaml`, hashed from the same bytes the enforcer
  is built from, so a decision's version names exactly the rules it used.
* Reload builds a complete new state off to the side and swaps one reference:
  a request sees the old policy or the new one, never a mix. A policy that fails
  to load is refused and the last good one stays in force.
* Deny overrides allow. Facts the matcher cannot hold (consent, an active call,
  a valid agreement) are explicit inputs; the decision names the one that failed.
* Decisions are cached per policy state, so a new version empties the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casbin
import yaml
from casbin import persist
from casbin.util import key_match

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.principal import ASSURANCE_LEVELS

logger = logging.getLogger("anxin.policy")

POLICY_FILES = ("model.conf", "policy.csv", "fields.yaml", "catalogue.yaml")
VIEWS = ("plain", "masked", "hidden")


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


@dataclass
class PolicyState:
    """One loaded, immutable version of the policy."""

    version: str
    enforcer: casbin.Enforcer
    fields: dict[str, dict[str, str]]
    catalogue: dict[str, Any]
    source: dict[str, str]
    cache: dict[tuple[str, ...], tuple[bool, str | None]] = field(default_factory=dict)

    @property
    def classifications(self) -> list[str]:
        """Every field classification the data dictionary uses."""
        return sorted({spec["classification"] for spec in self.fields.values()})


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


def build_state(source: Mapping[str, str]) -> PolicyState:
    """Build a complete policy state from file contents, or raise `PolicyLoadError`."""
    try:
        model = casbin.Enforcer.new_model(text=source["model.conf"])
        enforcer = casbin.Enforcer(model, _TextAdapter(source["policy.csv"]))
        enforcer.add_named_domain_matching_func("g", key_match)
        enforcer.build_role_links()
        fields_doc = yaml.safe_load(source["fields.yaml"]) or {}
        catalogue = yaml.safe_load(source["catalogue.yaml"]) or {}
    except PolicyLoadError:
        raise
    except Exception as exc:
        raise PolicyLoadError(f"policy does not load: {type(exc).__name__}: {exc}") from exc
    fields = fields_doc.get("fields") if isinstance(fields_doc, dict) else None
    if not isinstance(fields, dict) or not fields:
        raise PolicyLoadError("fields.yaml: no `fields` mapping")
    for name, spec in fields.items():
        if not isinstance(spec, dict) or not spec.get("classification") or not spec.get("mask"):
            raise PolicyLoadError(f"fields.yaml: {name} needs a classification and a mask")
    if not isinstance(catalogue, dict):
        raise PolicyLoadError("catalogue.yaml: not a mapping")
    return PolicyState(
        version=policy_version(source),
        enforcer=enforcer,
        fields={str(k): {str(a): str(b) for a, b in v.items()} for k, v in fields.items()},
        catalogue=catalogue,
        source=dict(source),
    )


class PolicyEngine:
    """Decides (subject, subsidiary, resource, action, level) on the loaded policy."""

    def __init__(self, policies_dir: Path) -> None:
        self.policies_dir = Path(policies_dir)
        self._state: PolicyState | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None

    # -- loading ---------------------------------------------------------------
    def load(self) -> str:
        """Load the policy folder now; raise `PolicyLoadError` if it is invalid."""
        state = build_state(read_policy_files(self.policies_dir))
        self._state = state
        self.last_error = None
        logger.info("policy %s loaded from %s", state.version, self.policies_dir)
        return state.version

    def reload_if_changed(self) -> bool:
        """Swap in the folder's policy if its content changed; keep the old one if invalid."""
        with self._reload_lock:
            try:
                source = read_policy_files(self.policies_dir)
                if self._state is not None and policy_version(source) == self._state.version:
                    return False
                state = build_state(source)
            except PolicyLoadError as exc:
                if self.last_error != str(exc):
                    logger.error("policy reload refused, keeping %s: %s", self.version, exc)
                self.last_error = str(exc)
                return False
            self._state = state
            self.last_error = None
            logger.info("policy %s hot-reloaded", state.version)
            return True

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the folder and hot-reload on change, until cancelled."""
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
        try:
            allowed, explain = state.enforcer.enforce_ex(sub, dom, obj, act, lvl)
        except Exception as exc:
            raise PolicyUnavailable("the policy engine failed") from exc
        rule = ", ".join(explain) if explain else None
        result = (bool(allowed), rule)
        if len(state.cache) > 100_000:
            state.cache.clear()
        state.cache[key] = result
        return result

    def decide(
        self,
        subject: str,
        domain: str,
        resource: str,
        action: str,
        assurance_level: str = "L0",
        facts: Mapping[str, bool] | None = None,
        with_field_views: bool = False,
    ) -> Decision:
        """Decide one request and explain it. Any doubt is a deny."""
        state = self.state
        level = assurance_level if assurance_level in ASSURANCE_LEVELS else "L0"
        allowed, rule = self._enforce(state, subject, domain, resource, action, level)
        reasons: list[str] = []
        failed: str | None = None
        if allowed:
            reasons.append(f"allowed by rule: {rule}")
            for fact, holds in (facts or {}).items():
                if not holds:
                    allowed, failed = False, fact
                    reasons.append(f"required fact not satisfied: {fact}")
                    break
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
        views = self.field_views(subject, domain, level) if allowed and with_field_views else {}
        return Decision(
            decision_id=uuid.uuid4().hex,
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
            field_views=views,
        )

    def _level_needed(
        self, state: PolicyState, sub: str, dom: str, obj: str, act: str, level: str
    ) -> str | None:
        for higher in ASSURANCE_LEVELS[ASSURANCE_LEVELS.index(level) + 1 :]:
            if self._enforce(state, sub, dom, obj, act, higher)[0]:
                return higher
        return None

    def field_views(self, subject: str, domain: str, assurance_level: str) -> dict[str, str]:
        """The view (plain, masked, hidden) of every classification for this caller."""
        state = self.state
        views = {}
        for classification in state.classifications:
            if self._enforce(state, subject, domain, classification, "view.plain", assurance_level)[
                0
            ]:
                views[classification] = "plain"
            elif self._enforce(
                state, subject, domain, classification, "view.masked", assurance_level
            )[0]:
                views[classification] = "masked"
            else:
                views[classification] = "hidden"
        return views

    # -- introspection -----------------------------------------------------------
    def roles_for(self, subject: str, domain: str) -> list[str]:
        """Roles `subject` holds in `domain`, inherited ones included."""
        return sorted(self.state.enforcer.get_implicit_roles_for_user(subject, domain))

    def grants(self) -> list[tuple[str, str, str]]:
        """(subject, role, subsidiary) for every grant to a subject that is not a role."""
        state = self.state
        roles = set((state.catalogue.get("roles") or {}).keys())
        return [
            (str(sub), str(role), str(dom))
            for sub, role, dom, *_ in state.enforcer.get_named_grouping_policy("g")
            if sub not in roles
        ]

    def home_subsidiary(self, subject: str) -> str | None:
        """The subsidiary of a subject's first grant; `group` for a `*` grant."""
        for sub, _role, dom in self.grants():
            if sub == subject:
                return "group" if dom == "*" else dom
        return None
