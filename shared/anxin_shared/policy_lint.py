"""`anxin policy lint`: mistakes in `policies/`, each with its file and line.

Checks `model.conf`, `policy.csv` and `fields.yaml` against the names that
`catalogue.yaml` declares (subsidiaries, roles, resources, actions, assurance
levels) and the field classifications of `fields.yaml`:

* unknown names (role, subsidiary, resource, action, level, effect, rule type);
* malformed rules (wrong number of fields);
* duplicate rules (the same `p` or `g` line twice);
* allow rules that a deny rule fully shadows (every request the allow matches,
  the deny matches too, so the allow can never take effect);
* roles that no subject is granted (directly or through a role that inherits
  them), roles without any rule, and grants of roles that do not exist;
* fields without a classification or a mask, or with a mask that does not exist.

Errors make the command exit non-zero; warnings are reported only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import casbin
import yaml
from casbin.persist.adapter import _extract_tokens

from anxin_shared.masking import MASKS
from anxin_shared.policy import POLICY_FILES
from anxin_shared.policy_fast import key_match, supported_model

EFFECTS = ("allow", "deny")


@dataclass(frozen=True, order=True)
class LintMessage:
    """One finding: where, how bad, which check, what."""

    file: str
    line: int
    severity: str  # "error" or "warning"
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity} [{self.code}] {self.message}"


@dataclass(frozen=True)
class _Rule:
    line: int
    tokens: tuple[str, ...]


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) of every mapping key and sequence item, by its path."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                if isinstance(item, yaml.ScalarNode):
                    lines[(*path, str(item.value))] = item.start_mark.line + 1

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines


def _names(section: Any) -> set[str]:
    if isinstance(section, dict):
        return {str(key) for key in section}
    if isinstance(section, list):
        return {str(item) for item in section}
    return set()


class _Linter:
    def __init__(self, policies_dir: Path) -> None:
        self.dir = policies_dir
        self.messages: list[LintMessage] = []

    def add(self, file: str, line: int, severity: str, code: str, message: str) -> None:
        self.messages.append(LintMessage(file, line, severity, code, message))

    def error(self, file: str, line: int, code: str, message: str) -> None:
        self.add(file, line, "error", code, message)

    def warning(self, file: str, line: int, code: str, message: str) -> None:
        self.add(file, line, "warning", code, message)

    # -- files -------------------------------------------------------------------
    def read(self, name: str) -> str | None:
        try:
            return (self.dir / name).read_text(encoding="utf-8")
        except OSError as exc:
            self.error(name, 0, "missing-file", f"cannot read: {exc.strerror}")
            return None

    def load_yaml(self, name: str, text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
        try:
            return yaml.safe_load(text) or {}, _yaml_lines(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.error(name, mark.line + 1 if mark else 0, "yaml", f"not valid YAML: {exc}")
            return None, {}

    def run(self) -> list[LintMessage]:
        texts = {name: self.read(name) for name in POLICY_FILES}
        if texts["model.conf"] is not None:
            self.check_model(texts["model.conf"])
        catalogue: dict[str, Any] = {}
        catalogue_lines: dict[tuple[str, ...], int] = {}
        if texts["catalogue.yaml"] is not None:
            loaded, catalogue_lines = self.load_yaml("catalogue.yaml", texts["catalogue.yaml"])
            if isinstance(loaded, dict):
                catalogue = loaded
                for section in (
                    "subsidiaries",
                    "roles",
                    "resources",
                    "actions",
                    "assurance_levels",
                ):
                    if not _names(catalogue.get(section)):
                        self.error("catalogue.yaml", 1, "catalogue", f"no `{section}` declared")
            elif loaded is not None:
                self.error("catalogue.yaml", 1, "catalogue", "the catalogue must be a mapping")
        classifications: set[str] = set()
        if texts["fields.yaml"] is not None:
            classifications = self.check_fields(texts["fields.yaml"])
        if texts["policy.csv"] is not None:
            self.check_policy(texts["policy.csv"], catalogue, catalogue_lines, classifications)
        return sorted(self.messages)

    def check_model(self, text: str) -> None:
        try:
            model = casbin.Enforcer.new_model(text=text)
        except Exception as exc:
            self.error("model.conf", 1, "model", f"does not parse: {type(exc).__name__}: {exc}")
            return
        if not supported_model(model):
            self.warning(
                "model.conf",
                1,
                "model",
                "not Anxin's model: decisions fall back to stock pycasbin (slow), "
                "and lint's shadow analysis assumes Anxin's matcher",
            )

    def check_fields(self, text: str) -> set[str]:
        document, lines = self.load_yaml("fields.yaml", text)
        fields = document.get("fields") if isinstance(document, dict) else None
        if not isinstance(fields, dict) or not fields:
            if document is not None:
                self.error("fields.yaml", 1, "fields", "no `fields` mapping")
            return set()
        found = set()
        for name, spec in fields.items():
            line = lines.get(("fields", str(name)), 0)
            spec = spec if isinstance(spec, dict) else {}
            classification, mask = spec.get("classification"), spec.get("mask")
            if not classification:
                self.error(
                    "fields.yaml", line, "field-classification", f"{name} has no classification"
                )
            else:
                found.add(str(classification))
            if not mask:
                self.error("fields.yaml", line, "field-mask", f"{name} has no mask")
            elif str(mask) not in MASKS:
                self.error(
                    "fields.yaml",
                    line,
                    "field-mask",
                    f"{name}: unknown mask {mask!r} (known: {', '.join(sorted(MASKS))})",
                )
        return found

    # -- policy.csv --------------------------------------------------------------
    def check_policy(
        self,
        text: str,
        catalogue: dict[str, Any],
        catalogue_lines: dict[tuple[str, ...], int],
        classifications: set[str],
    ) -> None:
        subsidiaries = _names(catalogue.get("subsidiaries"))
        roles = _names(catalogue.get("roles"))
        resources = _names(catalogue.get("resources"))
        actions = _names(catalogue.get("actions"))
        levels = _names(catalogue.get("assurance_levels"))
        objects = resources | classifications
        p_rules: list[_Rule] = []
        g_rules: list[_Rule] = []
        seen: dict[tuple[str, ...], int] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            tokens = tuple(_extract_tokens(line) or ())
            kind = tokens[0] if tokens else ""
            if kind not in ("p", "g"):
                self.error("policy.csv", number, "rule-type", f"unknown rule type {kind!r}: p or g")
                continue
            if tokens in seen:
                self.error("policy.csv", number, "duplicate", f"duplicate of line {seen[tokens]}")
                continue
            seen[tokens] = number
            fields = tokens[1:]
            if kind == "p":
                if len(fields) != 6:
                    self.error(
                        "policy.csv",
                        number,
                        "arity",
                        f"a p rule has 6 fields (role, subsidiary, resource, action, level,"
                        f" allow|deny), this one has {len(fields)}",
                    )
                    continue
                p_rules.append(_Rule(number, fields))
                self.check_p(number, fields, roles, subsidiaries, objects, actions, levels)
            else:
                if len(fields) < 3:
                    self.error(
                        "policy.csv",
                        number,
                        "arity",
                        "a g rule has 3 fields (subject, role, subsidiary),"
                        f" this one has {len(fields)}",
                    )
                    continue
                if len(fields) > 3:
                    self.warning(
                        "policy.csv", number, "arity", "fields after the third are ignored"
                    )
                g_rules.append(_Rule(number, fields[:3]))
                self.check_g(number, fields[:3], roles, subsidiaries)
        self.check_shadowed(p_rules, g_rules)
        self.check_roles(p_rules, g_rules, roles, catalogue_lines)
        self.check_agreements(g_rules, catalogue, catalogue_lines)

    def check_agreements(
        self,
        g_rules: list[_Rule],
        catalogue: dict[str, Any],
        catalogue_lines: dict[tuple[str, ...], int],
    ) -> None:
        """Subjects in agreement roles need an agreement; agreements need such a subject."""
        agreement_roles = set(catalogue.get("agreement_roles") or ())
        entries = catalogue.get("agreements") or {}
        if not isinstance(entries, dict):
            self.error("catalogue.yaml", 1, "agreement", "`agreements` must be a mapping")
            return
        bound = {rule.tokens[0]: rule.line for rule in g_rules if rule.tokens[1] in agreement_roles}
        for subject, line in sorted(bound.items()):
            if subject not in entries:
                self.error(
                    "policy.csv",
                    line,
                    "agreement-missing",
                    f"{subject} holds an agreement role but has no agreement: every decision "
                    "for it is denied",
                )
        for subject, entry in entries.items():
            line = catalogue_lines.get(("agreements", str(subject)), 0)
            if subject not in bound:
                self.warning(
                    "catalogue.yaml",
                    line,
                    "agreement-unused",
                    f"agreement of {subject} names no subject holding an agreement role",
                )
            window = entry if isinstance(entry, dict) else {}
            if not all(isinstance(window.get(key), date) for key in ("valid_from", "valid_until")):
                self.error(
                    "catalogue.yaml",
                    line,
                    "agreement",
                    f"agreement of {subject} needs valid_from and valid_until dates",
                )
            elif window["valid_until"] < window["valid_from"]:
                self.error(
                    "catalogue.yaml",
                    line,
                    "agreement",
                    f"agreement of {subject} ends before it starts",
                )

    def check_p(
        self,
        number: int,
        fields: tuple[str, ...],
        roles: set[str],
        subsidiaries: set[str],
        objects: set[str],
        actions: set[str],
        levels: set[str],
    ) -> None:
        sub, dom, obj, act, lvl, eft = fields
        if sub not in roles:
            self.error("policy.csv", number, "unknown-role", f"unknown role {sub!r}")
        if dom != "*" and dom not in subsidiaries:
            self.error("policy.csv", number, "unknown-subsidiary", f"unknown subsidiary {dom!r}")
        if "*" in obj:
            if not any(key_match(name, obj) for name in objects):
                self.error(
                    "policy.csv",
                    number,
                    "unknown-resource",
                    f"pattern {obj!r} matches no catalogued resource or field classification",
                )
        elif obj not in objects:
            self.error(
                "policy.csv",
                number,
                "unknown-resource",
                f"unknown resource or classification {obj!r}",
            )
        if act != "*" and act not in actions:
            self.error("policy.csv", number, "unknown-action", f"unknown action {act!r}")
        if lvl not in levels:
            self.error("policy.csv", number, "unknown-level", f"unknown assurance level {lvl!r}")
        if eft not in EFFECTS:
            self.error(
                "policy.csv", number, "unknown-effect", f"effect {eft!r} is not allow or deny"
            )

    def check_g(
        self, number: int, fields: tuple[str, ...], roles: set[str], subsidiaries: set[str]
    ) -> None:
        _sub, role, dom = fields
        if role not in roles:
            self.error(
                "policy.csv",
                number,
                "unknown-role",
                f"grant of a role that does not exist: {role!r}",
            )
        if dom != "*" and dom not in subsidiaries:
            self.error("policy.csv", number, "unknown-subsidiary", f"unknown subsidiary {dom!r}")

    def check_shadowed(self, p_rules: list[_Rule], g_rules: list[_Rule]) -> None:
        """An allow is dead when a deny matches every request the allow matches."""
        everywhere: dict[str, set[str]] = {}
        for rule in g_rules:
            sub, role, dom = rule.tokens
            if dom == "*":
                everywhere.setdefault(sub, set()).add(role)
        denies = [rule for rule in p_rules if rule.tokens[5] == "deny"]
        for allow in p_rules:
            if allow.tokens[5] != "allow":
                continue
            held = _closure(allow.tokens[0], everywhere)
            for deny in denies:
                if _covers(deny.tokens, allow.tokens, held):
                    self.error(
                        "policy.csv",
                        allow.line,
                        "shadowed",
                        f"this allow never takes effect: the deny at line {deny.line} matches"
                        " every request it matches",
                    )
                    break

    def check_roles(
        self,
        p_rules: list[_Rule],
        g_rules: list[_Rule],
        roles: set[str],
        catalogue_lines: dict[tuple[str, ...], int],
    ) -> None:
        granted: set[str] = set()
        inherits: dict[str, set[str]] = {}
        for rule in g_rules:
            sub, role, _dom = rule.tokens
            inherits.setdefault(sub, set()).add(role)
        for sub in inherits:
            if sub not in roles:  # a subject: everything it holds is granted
                granted |= _closure(sub, inherits)
        ruled = {rule.tokens[0] for rule in p_rules}
        for role in sorted(roles):
            line = catalogue_lines.get(("roles", role), 0)
            if role not in granted:
                self.error(
                    "catalogue.yaml",
                    line,
                    "role-not-granted",
                    f"role {role!r} is granted to no subject (no g rule reaches it)",
                )
            if not (_closure(role, inherits) & ruled):
                self.warning(
                    "catalogue.yaml",
                    line,
                    "role-without-rules",
                    f"role {role!r} has no rule, directly or inherited",
                )


def _closure(name: str, links: dict[str, set[str]]) -> set[str]:
    found = {name}
    queue = [name]
    while queue:
        for role in links.get(queue.pop(), ()):
            if role not in found:
                found.add(role)
                queue.append(role)
    return found


def _covers(deny: Iterable[str], allow: Iterable[str], held: set[str]) -> bool:
    d_sub, d_dom, d_obj, d_act, d_lvl, _ = deny
    _a_sub, a_dom, a_obj, a_act, a_lvl, _ = allow
    if d_sub not in held:
        return False
    if d_dom != "*" and d_dom != a_dom:
        return False
    if d_act != "*" and d_act != a_act:
        return False
    if d_lvl > a_lvl:
        return False
    d_star = d_obj.find("*")
    if d_star == -1:
        return "*" not in a_obj and a_obj == d_obj
    a_star = a_obj.find("*")
    prefix = d_obj[:d_star]
    return (a_obj if a_star == -1 else a_obj[:a_star]).startswith(prefix)


def lint_policies(policies_dir: Path) -> list[LintMessage]:
    """Every finding in a policy folder, sorted by file and line."""
    return _Linter(Path(policies_dir)).run()
