"""The control catalogue (`policies/controls.yaml`): loading and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHECK_KINDS = {
    "probe",
    "masked_listing",
    "consent_withdrawal",
    "chain_verify",
    "alert_probe",
    "policy",
    "agreements",
    "endpoint",
}
FIGURE_KINDS = {"decisions", "denials", "unmasks", "alerts", "findings", "quality"}
# What issue 11 requires every catalogue to cover.
REQUIRED_ARTICLE = {
    "verify_before_disclosing",
    "masking",
    "biometric_consent",
    "operator_traceability",
    "subsidiary_boundaries",
    "outsourced_staff",
    "data_quality_deadlines",
    "internal_audit_ledger",
}
REQUIRED_PIPL = {"13", "14", "15", "23", "28", "29", "44", "45", "46", "47", "51", "54", "55"}


class CatalogueError(ValueError):
    """The catalogue is malformed or leaves a requirement without a control."""


@dataclass(frozen=True)
class Control:
    """One control: what it claims, why, how it is enforced and checked."""

    id: str
    title: str
    statement: str
    article: tuple[str, ...]
    pipl: tuple[str, ...]
    enforced_by: dict[str, list[str]]
    checks: tuple[dict[str, Any], ...]
    figures: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Catalogue:
    """All controls plus the requirement texts."""

    controls: tuple[Control, ...]
    requirements: dict[str, dict[str, str]]
    source_sha256: str


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate the catalogue, or raise `CatalogueError` naming the problem."""
    import hashlib

    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: not a mapping")
    requirements = data.get("requirements") or {}
    article_names = set((requirements.get("article") or {}).keys())
    pipl_names = {str(key) for key in (requirements.get("pipl") or {})}
    controls: list[Control] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("controls") or []):
        where = f"{path.name}: controls[{index}]"
        for key in ("id", "title", "statement", "requirements", "enforced_by", "checks"):
            if key not in raw:
                raise CatalogueError(f"{where}: missing {key!r}")
        if raw["id"] in seen:
            raise CatalogueError(f"{where}: duplicate id {raw['id']}")
        seen.add(raw["id"])
        reqs = raw["requirements"] or {}
        article = tuple(reqs.get("article") or ())
        pipl = tuple(str(item) for item in reqs.get("pipl") or ())
        unknown = (set(article) - article_names) | (set(pipl) - pipl_names)
        if unknown:
            raise CatalogueError(f"{where}: unknown requirements {sorted(unknown)}")
        checks = tuple(raw["checks"] or ())
        if not checks:
            raise CatalogueError(f"{where}: a control needs at least one check")
        for check in checks:
            if check.get("kind") not in CHECK_KINDS:
                raise CatalogueError(f"{where}: unknown check kind {check.get('kind')!r}")
        figures = tuple(raw.get("figures") or ())
        if set(figures) - FIGURE_KINDS:
            raise CatalogueError(f"{where}: unknown figures {sorted(set(figures) - FIGURE_KINDS)}")
        controls.append(
            Control(
                id=str(raw["id"]),
                title=str(raw["title"]),
                statement=" ".join(str(raw["statement"]).split()),
                article=article,
                pipl=pipl,
                enforced_by={k: [str(v) for v in vs or []] for k, vs in raw["enforced_by"].items()},
                checks=checks,
                figures=figures,
            )
        )
    covered_article = {name for control in controls for name in control.article}
    covered_pipl = {name for control in controls for name in control.pipl}
    missing = sorted(REQUIRED_ARTICLE - covered_article) + sorted(REQUIRED_PIPL - covered_pipl)
    if missing:
        raise CatalogueError(f"{path.name}: no control serves {missing}")
    return Catalogue(
        controls=tuple(controls),
        requirements={
            "article": dict(requirements.get("article") or {}),
            "pipl": {str(k): v for k, v in (requirements.get("pipl") or {}).items()},
        },
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
