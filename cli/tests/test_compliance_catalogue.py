"""The control catalogue: it loads, covers every requirement of issue 11, refuses bad entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from anxin_cli.compliance.catalogue import (
    REQUIRED_ARTICLE,
    REQUIRED_PIPL,
    CatalogueError,
    load_catalogue,
)

CATALOGUE = Path(__file__).resolve().parents[2] / "policies" / "controls.yaml"


def test_the_catalogue_covers_every_requirement() -> None:
    catalogue = load_catalogue(CATALOGUE)
    article = {name for control in catalogue.controls for name in control.article}
    pipl = {name for control in catalogue.controls for name in control.pipl}
    assert article >= REQUIRED_ARTICLE
    assert pipl >= REQUIRED_PIPL
    for control in catalogue.controls:
        assert control.statement and control.checks
        assert any(control.enforced_by.values()), control.id


def test_every_live_probe_expects_a_refusal() -> None:
    catalogue = load_catalogue(CATALOGUE)
    probes = [c for control in catalogue.controls for c in control.checks if c["kind"] == "probe"]
    assert probes
    for probe in probes:
        expected = probe["expect_status"]
        assert set(expected if isinstance(expected, list) else [expected]) <= {403, 404}


def _write(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "controls.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_requirement_without_a_control_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    data["controls"] = [c for c in data["controls"] if "55" not in c["requirements"]["pipl"]]
    with pytest.raises(CatalogueError, match="55"):
        load_catalogue(_write(tmp_path, data))


def test_unknown_check_kinds_and_requirements_are_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    data["controls"][0]["checks"][0]["kind"] = "trust_me"
    with pytest.raises(CatalogueError, match="trust_me"):
        load_catalogue(_write(tmp_path, data))
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    data["controls"][0]["requirements"]["pipl"].append("99")
    with pytest.raises(CatalogueError, match="99"):
        load_catalogue(_write(tmp_path, data))
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    data["controls"][1]["checks"] = []
    with pytest.raises(CatalogueError, match="at least one check"):
        load_catalogue(_write(tmp_path, data))
