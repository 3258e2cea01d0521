"""Alert rules, read from `policies/alerts.yaml` and re-read when the file changes.

A rule that fails to parse keeps the last good rule set in force (like the
policy's hot reload); a missing file means the built-in defaults below.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

logger = logging.getLogger("anxin.audit.alerts")
SEVERITIES = ("low", "medium", "high", "critical")
CUSTOMER_RESOURCES = ("customer.profile", "customer.contact", "customer.household")


@dataclass(frozen=True)
class WindowRule:
    """A count over a sliding window per actor."""

    severity: str
    window_minutes: float
    threshold: int
    resources: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def window_seconds(self) -> float:
        """The window length in seconds."""
        return self.window_minutes * 60


@dataclass(frozen=True)
class VolumeRule:
    """An operator's volume in a window against their own baseline."""

    severity: str
    window_minutes: float
    baseline_days: int
    factor: float
    min_events: int

    @property
    def window_seconds(self) -> float:
        """The window length in seconds."""
        return self.window_minutes * 60


@dataclass(frozen=True)
class ShiftRule:
    """Customer-data access outside shift hours."""

    severity: str
    timezone: ZoneInfo
    start: time
    end: time
    resources: tuple[str, ...]

    def off_shift(self, local: time) -> bool:
        """Whether a local time of day lies outside the shift (which may span midnight)."""
        if self.start <= self.end:
            return not (self.start <= local < self.end)
        return self.end <= local < self.start


@dataclass(frozen=True)
class AlertRules:
    """One loaded rule set; None disables a rule."""

    volume_vs_baseline: VolumeRule | None = None
    off_shift: ShiftRule | None = None
    unverified_reads: WindowRule | None = None
    repeated_denials: WindowRule | None = None
    bulk_unmask: WindowRule | None = None
    flagged_customers: dict[str, str] = field(default_factory=dict)
    flagged_severity: str = "high"
    fraud_kinds: tuple[str, ...] = ()
    fraud_severity: str = "critical"
    escalate_after_minutes: float = 30.0
    escalate_severities: tuple[str, ...] = ("high", "critical")

    @property
    def max_window_seconds(self) -> float:
        """The longest sliding window (how much history a restart re-reads)."""
        windows = [
            rule.window_seconds
            for rule in (
                self.volume_vs_baseline,
                self.unverified_reads,
                self.repeated_denials,
                self.bulk_unmask,
            )
            if rule is not None
        ]
        return max(windows, default=0.0)


class RulesError(ValueError):
    """The rules file does not parse."""


def _severity(block: dict[str, Any], default: str) -> str:
    severity = str(block.get("severity", default))
    if severity not in SEVERITIES:
        raise RulesError(f"unknown severity {severity!r}")
    return severity


def _enabled(rules: dict[str, Any], name: str) -> dict[str, Any] | None:
    block = rules.get(name)
    if block is None:
        return None
    if not isinstance(block, dict):
        raise RulesError(f"rule {name} must be a mapping")
    if block.get("enabled", True) is False:
        return None
    return block


def _window(block: dict[str, Any], default_severity: str, threshold_key: str) -> WindowRule:
    return WindowRule(
        severity=_severity(block, default_severity),
        window_minutes=float(block.get("window_minutes", 10)),
        threshold=int(block[threshold_key]),
        resources=tuple(block.get("resources") or ()),
        actions=tuple(block.get("actions") or ()),
    )


def _clock(text: object) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def parse_rules(document: object) -> AlertRules:
    """Build a rule set from the parsed YAML document."""
    if not isinstance(document, dict):
        raise RulesError("the alert rules file must be a mapping")
    rules = document.get("rules") or {}
    if not isinstance(rules, dict):
        raise RulesError("`rules` must be a mapping")
    try:
        volume = shift = unverified = denials = unmask = None
        if block := _enabled(rules, "volume_vs_baseline"):
            volume = VolumeRule(
                severity=_severity(block, "medium"),
                window_minutes=float(block.get("window_minutes", 60)),
                baseline_days=int(block.get("baseline_days", 14)),
                factor=float(block.get("factor", 5)),
                min_events=int(block.get("min_events", 200)),
            )
        if block := _enabled(rules, "off_shift"):
            shift = ShiftRule(
                severity=_severity(block, "low"),
                timezone=ZoneInfo(str(block.get("timezone", "Asia/Shanghai"))),
                start=_clock(block.get("shift_start", "07:00")),
                end=_clock(block.get("shift_end", "22:00")),
                resources=tuple(block.get("resources") or CUSTOMER_RESOURCES),
            )
        if block := _enabled(rules, "unverified_reads"):
            unverified = _window(block, "high", "distinct_customers")
            if not unverified.resources:
                unverified = WindowRule(
                    unverified.severity,
                    unverified.window_minutes,
                    unverified.threshold,
                    CUSTOMER_RESOURCES,
                )
        if block := _enabled(rules, "repeated_denials"):
            denials = _window(block, "medium", "threshold")
        if block := _enabled(rules, "bulk_unmask"):
            unmask = _window(block, "high", "threshold")
            if not unmask.actions:
                unmask = WindowRule(
                    unmask.severity, unmask.window_minutes, unmask.threshold, (), ("unmask",)
                )
        flagged_block = _enabled(rules, "flagged_customers") or {}
        flagged = {str(k): str(v) for k, v in (flagged_block.get("customers") or {}).items()}
        fraud_block = _enabled(rules, "fraud_watchlist")
        escalation = document.get("escalation") or {}
        return AlertRules(
            volume_vs_baseline=volume,
            off_shift=shift,
            unverified_reads=unverified,
            repeated_denials=denials,
            bulk_unmask=unmask,
            flagged_customers=flagged,
            flagged_severity=_severity(flagged_block, "high") if flagged_block else "high",
            fraud_kinds=tuple(fraud_block.get("kinds") or ("fraud.watchlist_hit",))
            if fraud_block is not None
            else (),
            fraud_severity=_severity(fraud_block, "critical") if fraud_block else "critical",
            escalate_after_minutes=float(escalation.get("after_minutes", 30)),
            escalate_severities=tuple(escalation.get("severities") or ("high", "critical")),
        )
    except RulesError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"alert rules do not parse: {type(exc).__name__}: {exc}") from exc


DEFAULT_RULES = parse_rules(
    {
        "rules": {
            "unverified_reads": {"window_minutes": 5, "distinct_customers": 50},
            "repeated_denials": {"window_minutes": 10, "threshold": 10},
            "bulk_unmask": {"window_minutes": 60, "threshold": 20},
            "fraud_watchlist": {},
        }
    }
)


class RulesFile:
    """The rules file, re-read when its content changes; the last good set stays on error."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._text: str | None = None
        self.rules = DEFAULT_RULES
        self.last_error: str | None = None

    def current(self) -> AlertRules:
        """The rules in force, reloading the file if it changed."""
        if self.path is None or not self.path.exists():
            return self.rules
        text = self.path.read_text(encoding="utf-8")
        if text == self._text:
            return self.rules
        self._text = text
        try:
            self.rules = parse_rules(yaml.safe_load(text))
            self.last_error = None
        except (RulesError, yaml.YAMLError) as exc:
            self.last_error = str(exc)
            logger.error("alert rules refused, keeping the previous set: %s", exc)
        return self.rules
