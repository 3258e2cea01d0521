"""The assurance policy (`policies/assurance.yaml`): how factors reach levels.

The file is data, not code: which factor combinations reach L1/L2/L3, when a
factor locks, how floods are throttled and what each risk signal weighs. It is
re-read when it changes; a broken edit keeps the last good version (and is
logged), and with no good version at all every computation fails closed (503).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.principal import ASSURANCE_LEVELS

logger = logging.getLogger("anxin.identity.assurance")

ASSURANCE_FILE = "assurance.yaml"
FACTORS = ("registered_ani", "known_device", "knowledge", "otp", "voiceprint")


class AssurancePolicyError(ValueError):
    """The assurance file is missing or does not describe a usable policy."""


@dataclass(frozen=True)
class RiskSignal:
    """One risk input: its weight, the reason shown to the agent, an optional level cap."""

    name: str
    weight: int
    reason_zh: str
    max_level: str | None = None
    threshold: int = 1


@dataclass(frozen=True)
class AssurancePolicy:
    """One loaded version of `assurance.yaml`."""

    min_successes: dict[str, int]
    levels: dict[str, tuple[frozenset[str], ...]]
    max_failures: int
    window_seconds: int
    throttle_window_seconds: int
    max_attempts_per_session: int
    max_sessions_per_agent: int
    max_codes_per_session: int
    risk: dict[str, RiskSignal] = field(default_factory=dict)

    def level_for(self, satisfied: set[str], caps: list[str] | None = None) -> str:
        """The highest level one of whose combinations `satisfied` covers, then capped."""
        reached = "L0"
        for level in ASSURANCE_LEVELS[1:]:
            if any(combination <= satisfied for combination in self.levels.get(level, ())):
                reached = level
        for cap in caps or []:
            if ASSURANCE_LEVELS.index(cap) < ASSURANCE_LEVELS.index(reached):
                reached = cap
        return reached


def _positive(doc: dict[str, Any], key: str, where: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise AssurancePolicyError(f"{where}.{key} must be a positive integer")
    return value


def parse_policy(text: str) -> AssurancePolicy:
    """Validate and build the policy from the YAML text, or raise `AssurancePolicyError`."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AssurancePolicyError(f"{ASSURANCE_FILE} is not YAML") from exc
    if not isinstance(doc, dict):
        raise AssurancePolicyError(f"{ASSURANCE_FILE} is not a mapping")
    factors = doc.get("factors")
    if not isinstance(factors, dict) or not factors:
        raise AssurancePolicyError("`factors` must name the factors")
    unknown = set(factors) - set(FACTORS)
    if unknown:
        raise AssurancePolicyError(f"unknown factors: {', '.join(sorted(unknown))}")
    min_successes = {
        str(name): int((spec or {}).get("min_successes", 1)) for name, spec in factors.items()
    }
    if any(value < 1 for value in min_successes.values()):
        raise AssurancePolicyError("min_successes must be at least 1")
    raw_levels = doc.get("levels")
    if not isinstance(raw_levels, dict):
        raise AssurancePolicyError("`levels` must map L1..L3 to factor combinations")
    levels: dict[str, tuple[frozenset[str], ...]] = {}
    for level, combinations in raw_levels.items():
        if level not in ASSURANCE_LEVELS[1:]:
            raise AssurancePolicyError(f"unknown level {level}")
        if not isinstance(combinations, list) or not combinations:
            raise AssurancePolicyError(f"{level} needs at least one combination")
        built = []
        for combination in combinations:
            if not isinstance(combination, list) or not combination:
                raise AssurancePolicyError(f"{level}: a combination is a non-empty list")
            if not set(combination) <= set(factors):
                raise AssurancePolicyError(f"{level}: a combination names an undeclared factor")
            built.append(frozenset(str(name) for name in combination))
        levels[str(level)] = tuple(built)
    lockout = doc.get("lockout") or {}
    throttle = doc.get("throttle") or {}
    if not isinstance(lockout, dict) or not isinstance(throttle, dict):
        raise AssurancePolicyError("`lockout` and `throttle` must be mappings")
    risk: dict[str, RiskSignal] = {}
    for name, spec in (doc.get("risk") or {}).items():
        if not isinstance(spec, dict):
            raise AssurancePolicyError(f"risk.{name} must be a mapping")
        cap = spec.get("max_level")
        if cap is not None and cap not in ASSURANCE_LEVELS:
            raise AssurancePolicyError(f"risk.{name}.max_level is not a level")
        threshold = spec.get("min_customers", spec.get("min_failures", 1))
        if not isinstance(threshold, int) or threshold < 1:
            raise AssurancePolicyError(f"risk.{name}: a threshold is a positive integer")
        risk[str(name)] = RiskSignal(
            name=str(name),
            weight=int(spec.get("weight", 0)),
            reason_zh=str(spec.get("reason_zh") or name),
            max_level=cap,
            threshold=threshold,
        )
    return AssurancePolicy(
        min_successes=min_successes,
        levels=levels,
        max_failures=_positive(lockout, "max_failures", "lockout"),
        window_seconds=_positive(lockout, "window_seconds", "lockout"),
        throttle_window_seconds=_positive(throttle, "window_seconds", "throttle"),
        max_attempts_per_session=_positive(throttle, "max_attempts_per_session", "throttle"),
        max_sessions_per_agent=_positive(throttle, "max_sessions_per_agent", "throttle"),
        max_codes_per_session=_positive(throttle, "max_codes_per_session", "throttle"),
        risk=risk,
    )


class AssuranceSource:
    """The assurance file of one policies folder, re-read when its content changes."""

    def __init__(self, policies_dir: Path) -> None:
        self.path = Path(policies_dir) / ASSURANCE_FILE
        self._text: str | None = None
        self._policy: AssurancePolicy | None = None
        self._fingerprint = ""
        self._lock = threading.Lock()

    def current(self) -> AssurancePolicy:
        """The newest valid policy; 503 if there never was one."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            text = None
        with self._lock:
            if text is not None and text != self._text:
                try:
                    self._policy = parse_policy(text)
                    self._fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
                except AssurancePolicyError as exc:
                    logger.error("assurance policy not reloaded: %s", exc)
                self._text = text
            if self._policy is None:
                raise DependencyUnavailable("the assurance policy is not loaded")
            return self._policy

    def fingerprint(self) -> str:
        """A short hash of the policy in force (re-read first, as `current` does)."""
        self.current()
        return self._fingerprint


_sources: dict[Path, AssuranceSource] = {}
_default: list[AssuranceSource] = []


def configure(policies_dir: Path) -> AssuranceSource:
    """Point this process at a policies folder (called by `create_app`)."""
    key = Path(policies_dir).resolve()
    source = _sources.setdefault(key, AssuranceSource(key))
    _default[:] = [source]
    return source


def current_fingerprint() -> str:
    """A short hash of the assurance policy in force: it moves whenever levels may."""
    if not _default:
        raise DependencyUnavailable("the assurance policy is not configured")
    return _default[0].fingerprint()


def current_policy() -> AssurancePolicy:
    """The configured process's assurance policy."""
    if not _default:
        raise DependencyUnavailable("the assurance policy is not configured")
    return _default[0].current()
