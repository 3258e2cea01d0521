"""`anxin policy diff`: every decision and field view two policy versions disagree on.

The request space is the union over both versions of: every seeded subject
(each subject of a `g` grant) and every catalogued role (a role name as the
subject gets exactly that role's rules), × every subsidiary, ×
every resource (catalogued or named by a rule), × every action, × every
assurance level. Field views are compared for every subject × subsidiary ×
level × classification. Decisions compare the allow/deny boolean (a changed
matched rule alone is not a flip); both sides use the fast path.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from anxin_shared.policy import POLICY_FILES, PolicyEngine, PolicyLoadError, PolicyState
from anxin_shared.principal import ASSURANCE_LEVELS


@dataclass(frozen=True, order=True)
class Flip:
    """One request the two versions answer differently."""

    kind: str  # "decision" or "field_view"
    subject: str
    subsidiary: str
    resource: str  # a resource, or a classification for a field view
    action: str  # an action, or "view" for a field view
    level: str
    before: str  # allow/deny, or plain/masked/hidden
    after: str
    before_rule: str | None = None
    after_rule: str | None = None

    def __str__(self) -> str:
        request = f"{self.subject} {self.subsidiary} {self.resource} {self.action} {self.level}"
        line = f"{self.kind}: {request}: {self.before} -> {self.after}"
        if self.kind == "decision":
            line += f"  (was {self.before_rule or 'no rule'}; now {self.after_rule or 'no rule'})"
        return line


@dataclass
class DiffReport:
    """The flips, and how many requests and views were compared."""

    base_version: str
    head_version: str
    decisions_compared: int = 0
    views_compared: int = 0
    flips: list[Flip] = field(default_factory=list)

    @property
    def decision_flips(self) -> list[Flip]:
        """Decisions that changed allow <-> deny."""
        return [flip for flip in self.flips if flip.kind == "decision"]

    @property
    def view_flips(self) -> list[Flip]:
        """Field views that changed."""
        return [flip for flip in self.flips if flip.kind == "field_view"]

    def counts(self) -> Counter[tuple[str, str, str, str, str]]:
        """Flips by (kind, resource, action, before, after)."""
        return Counter(
            (flip.kind, flip.resource, flip.action, flip.before, flip.after) for flip in self.flips
        )


def _names(state: PolicyState, section: str) -> set[str]:
    value = state.catalogue.get(section) or {}
    return {str(name) for name in (value if isinstance(value, dict | list) else [])}


def request_space(
    states: list[PolicyState],
) -> tuple[list[str], list[str], list[str], list[str], list[str], list[str]]:
    """(subjects, subsidiaries, resources, actions, levels, classifications) of the versions."""
    subjects: set[str] = set()
    subsidiaries: set[str] = set()
    resources: set[str] = set()
    actions: set[str] = set()
    levels: set[str] = set(ASSURANCE_LEVELS)
    classifications: set[str] = set()
    for state in states:
        roles = _names(state, "roles")
        subjects |= roles | {str(rule[0]) for rule in state.g_rules}
        subsidiaries |= _names(state, "subsidiaries")
        subsidiaries |= {str(rule[2]) for rule in state.g_rules if "*" not in str(rule[2])}
        classifications |= set(state.classifications)
        resources |= _names(state, "resources")
        actions |= _names(state, "actions")
        levels |= _names(state, "assurance_levels")
        for rule in state.p_rules:
            sub, dom, obj, act, lvl = (str(token) for token in rule[:5])
            subjects.add(sub)
            if "*" not in dom:
                subsidiaries.add(dom)
            if "*" not in obj:
                resources.add(obj)
            if act != "*":
                actions.add(act)
            levels.add(lvl)
    resources -= classifications
    actions -= {"view.plain", "view.masked"}
    return (
        sorted(subjects),
        sorted(subsidiaries),
        sorted(resources),
        sorted(actions),
        sorted(levels),
        sorted(classifications),
    )


def diff_engines(base: PolicyEngine, head: PolicyEngine) -> DiffReport:
    """Every decision and field view on which two loaded policies differ."""
    a, b = base.state, head.state
    subjects, subsidiaries, resources, actions, levels, classifications = request_space([a, b])
    report = DiffReport(base_version=a.version, head_version=b.version)
    for subject in subjects:
        for subsidiary in subsidiaries:
            for level in levels:
                for resource in resources:
                    for action in actions:
                        before = base.enforce(subject, subsidiary, resource, action, level)
                        after = head.enforce(subject, subsidiary, resource, action, level)
                        report.decisions_compared += 1
                        if before[0] != after[0]:
                            report.flips.append(
                                Flip(
                                    "decision",
                                    subject,
                                    subsidiary,
                                    resource,
                                    action,
                                    level,
                                    "allow" if before[0] else "deny",
                                    "allow" if after[0] else "deny",
                                    before[1],
                                    after[1],
                                )
                            )
                views_before = base.field_views(subject, subsidiary, level)
                views_after = head.field_views(subject, subsidiary, level)
                for classification in classifications:
                    old = views_before.get(classification, "hidden")
                    new = views_after.get(classification, "hidden")
                    report.views_compared += 1
                    if old != new:
                        report.flips.append(
                            Flip(
                                "field_view",
                                subject,
                                subsidiary,
                                classification,
                                "view",
                                level,
                                old,
                                new,
                            )
                        )
    report.flips.sort()
    return report


def diff_dirs(base_dir: Path, head_dir: Path) -> DiffReport:
    """Load both folders (raising `PolicyLoadError`) and diff them."""
    base, head = PolicyEngine(base_dir), PolicyEngine(head_dir)
    base.load()
    head.load()
    return diff_engines(base, head)


def export_git_policies(ref: str, policies_dir: Path, target: Path) -> Path:
    """Write the policy files of `policies_dir` as of git `ref` into `target`; return it."""
    policies_dir = policies_dir.resolve()
    try:
        top = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["git", "-C", str(policies_dir), "rev-parse", "--show-toplevel"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PolicyLoadError(f"{policies_dir} is not inside a git repository") from exc
    relative = policies_dir.relative_to(Path(top).resolve()).as_posix()
    target.mkdir(parents=True, exist_ok=True)
    for name in POLICY_FILES:
        spec = f"{ref}:{relative}/{name}" if relative != "." else f"{ref}:{name}"
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["git", "-C", top, "show", spec],  # noqa: S607
            capture_output=True,
        )
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise PolicyLoadError(f"git show {spec}: {message}")
        (target / name).write_bytes(result.stdout)
    return target
