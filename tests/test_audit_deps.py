"""scripts/audit_deps.py: its decisions, against a fake PyPI (the registry is external)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from packaging.version import Version
from pip_audit._service.interface import Dependency, ResolvedDependency
from requests.adapters import BaseAdapter

from scripts.audit_deps import (
    DEFAULT_EXCEPTIONS,
    EXIT_EXCEPTIONS_FILE,
    EXIT_REGISTRY,
    ExceptionEntry,
    LatestReleaseService,
    RegistryError,
    Report,
    audit,
    installed_dependencies,
    load_exceptions,
    main,
    render,
)

TODAY = date(2026, 11, 26)
ADVISORY = {
    "id": "PYSEC-2026-1",
    "aliases": ["CVE-2026-1", "GHSA-aaaa-bbbb-cccc"],
    "details": "A timing side channel in signing.",
    "summary": None,
    "fixed_in": [],
    "withdrawn": None,
}
SAME_ADVISORY = {**ADVISORY, "id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2026-1", "PYSEC-2026-1"]}


class FakePyPI(BaseAdapter):
    """Answers `https://pypi.org/pypi/<name>/json` from a dict; absent names are 404."""

    def __init__(self, projects: dict[str, Any], status: int = 200, body: bytes | None = None):
        super().__init__()
        self.projects = projects
        self.status = status
        self.body = body
        self.urls: list[str] = []

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """One canned answer."""
        url = str(request.url)
        self.urls.append(url)
        name = url.removeprefix("https://pypi.org/pypi/").removesuffix("/json")
        response = requests.Response()
        response.url, response.request = url, request
        project = self.projects.get(name)
        response.status_code = 404 if project is None else self.status
        response._content = self.body if self.body is not None else json.dumps(project).encode()
        return response

    def close(self) -> None:
        """Nothing to close."""


class Unreachable(BaseAdapter):
    """A registry that cannot be connected to."""

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Always a connection error."""
        raise requests.ConnectionError("connection refused")

    def close(self) -> None:
        """Nothing to close."""


def session_with(adapter: BaseAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    return session


def project(version: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"info": {"name": "x", "version": version}, "vulnerabilities": list(vulns)}


def dep(name: str, version: str) -> Dependency:
    return ResolvedDependency(name=name, version=Version(version))


def entry(package: str, version: str, advisories: Any, review_by: date = date(2027, 2, 1)):
    return ExceptionEntry(
        package=package,
        version=version,
        advisories=advisories,
        reason="a documented reason, long enough to be one",
        review_by=review_by,
    )


def run(projects: dict[str, Any], deps: list[Dependency], entries: list[ExceptionEntry]) -> Report:
    service = LatestReleaseService(session_with(FakePyPI(projects)))
    return audit(service, deps, entries, TODAY)


def test_a_vulnerability_of_the_latest_release_is_reported_once_per_advisory() -> None:
    report = run(
        {"ecdsa": project("0.19.2", ADVISORY, SAME_ADVISORY)}, [dep("ecdsa", "0.19.2")], []
    )
    assert not report.passed
    [finding] = report.uncovered
    assert finding.package == "ecdsa" and finding.version == "0.19.2"
    assert finding.ids == {"PYSEC-2026-1", "CVE-2026-1", "GHSA-aaaa-bbbb-cccc"}
    assert "timing side channel" in finding.text


def test_a_latest_release_without_vulnerabilities_is_clean() -> None:
    report = run({"idna": project("3.11")}, [dep("idna", "3.11")], [])
    assert report.passed and report.findings == [] and report.audited == 1


def test_a_version_behind_latest_is_unauditable_not_clean() -> None:
    report = run({"numpy": project("2.5.5")}, [dep("numpy", "2.4.6")], [])
    assert not report.passed
    [finding] = report.uncovered
    assert finding.ids == {"unauditable"} and finding.version == "2.4.6"
    assert "latest 2.5.5" in finding.text


def test_without_strict_only_vulnerabilities_and_expiry_fail_the_run() -> None:
    projects = {"ecdsa": project("0.19.2", ADVISORY), "numpy": project("2.5.5")}
    deps = [dep("ecdsa", "0.19.2"), dep("numpy", "2.4.6")]
    # numpy fell behind its latest release (an upstream release, not a finding) and the
    # scipy exception is stale: warnings. The ecdsa advisory is known: it fails the run.
    report = run(projects, deps, [entry("scipy", "1.17.1", "unauditable")])
    report.strict = False
    assert not report.passed
    assert [f.package for f in report.uncovered_vulnerabilities] == ["ecdsa"]
    covered = run(
        projects,
        deps,
        [entry("ecdsa", "0.19.2", ["PYSEC-2026-1"]), entry("scipy", "1.17.1", "unauditable")],
    )
    covered.strict = False
    assert covered.passed and len(covered.uncovered) == 1 and len(covered.stale) == 1
    assert any(line.startswith("WARNING") for line in render(covered))
    covered.strict = True
    assert not covered.passed
    expired = run(
        projects, deps, [entry("ecdsa", "0.19.2", ["PYSEC-2026-1"], review_by=date(2020, 1, 1))]
    )
    expired.strict = False
    assert not expired.passed


def test_a_package_the_registry_does_not_know_is_unauditable() -> None:
    report = run({}, [dep("private-thing", "1.0")], [])
    assert not report.passed
    assert report.uncovered[0].ids == {"unauditable"}


def test_exceptions_covering_the_findings_pass() -> None:
    report = run(
        {"ecdsa": project("0.19.2", ADVISORY), "numpy": project("2.5.5")},
        [dep("ecdsa", "0.19.2"), dep("numpy", "2.4.6")],
        [entry("ecdsa", "0.19.2", ["GHSA-aaaa-bbbb-cccc"]), entry("numpy", "2.4.6", "unauditable")],
    )
    assert report.passed, report
    assert all(finding.exception is not None for finding in report.findings)


def test_an_exception_for_another_version_does_not_cover() -> None:
    report = run(
        {"ecdsa": project("0.19.3", ADVISORY)},
        [dep("ecdsa", "0.19.3")],
        [entry("ecdsa", "0.19.2", ["PYSEC-2026-1"])],
    )
    assert not report.passed
    assert len(report.uncovered) == 1 and len(report.stale) == 1


def test_an_exception_that_no_longer_matches_is_stale_and_fails() -> None:
    report = run(
        {"numpy": project("2.4.6")},
        [dep("numpy", "2.4.6")],
        [entry("numpy", "2.4.6", "unauditable")],
    )
    assert report.findings == []
    assert not report.passed
    assert report.stale == ["numpy 2.4.6: unauditable no longer found"]


def test_an_exception_naming_an_advisory_not_found_is_stale() -> None:
    report = run(
        {"ecdsa": project("0.19.2", ADVISORY)},
        [dep("ecdsa", "0.19.2")],
        [entry("ecdsa", "0.19.2", ["PYSEC-2026-1", "PYSEC-2026-999"])],
    )
    assert report.uncovered == []
    assert not report.passed
    assert report.stale == ["ecdsa 0.19.2: PYSEC-2026-999 no longer found"]


def test_an_expired_exception_fails() -> None:
    expired = entry("numpy", "2.4.6", "unauditable", review_by=date(2026, 11, 25))
    report = run({"numpy": project("2.5.5")}, [dep("numpy", "2.4.6")], [expired])
    assert report.uncovered == [] and report.stale == []
    assert report.expired == [expired] and not report.passed


def test_an_unreachable_registry_fails_instead_of_finding_nothing() -> None:
    service = LatestReleaseService(session_with(Unreachable()))
    with pytest.raises(RegistryError, match="unreachable"):
        audit(service, [dep("idna", "3.11")], [], TODAY)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (503, None, "HTTP 503"),
        (200, b"<html>mirror error</html>", "no info.version"),
        (200, json.dumps({"info": {}, "vulnerabilities": []}).encode(), "no info.version"),
        (200, json.dumps({"info": {"version": "3.11"}}).encode(), "no vulnerabilities list"),
        (200, json.dumps(project("3.11", {"id": "X"})).encode(), "unreadable vulnerability"),
    ],
)
def test_an_unreadable_or_failed_answer_fails(status: int, body: bytes | None, message: str):
    fake = FakePyPI({"idna": project("3.11")}, status=status, body=body)
    with pytest.raises(RegistryError, match=message):
        audit(LatestReleaseService(session_with(fake)), [dep("idna", "3.11")], [], TODAY)


def test_main_exits_with_the_registry_code_when_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--exceptions", str(DEFAULT_EXCEPTIONS)], session=session_with(Unreachable()))
    assert code == EXIT_REGISTRY
    assert "registry failure, nothing audited" in capsys.readouterr().err


def test_main_rejects_an_invalid_exceptions_file(tmp_path: Path) -> None:
    bad = tmp_path / "exceptions.yaml"
    bad.write_text("exceptions:\n  - package: ecdsa\n    version: '0.19.2'\n")
    assert main(["--exceptions", str(bad)], session=session_with(Unreachable())) == (
        EXIT_EXCEPTIONS_FILE
    )


def test_the_repository_exceptions_file_is_valid() -> None:
    entries = load_exceptions(DEFAULT_EXCEPTIONS)
    assert entries and all(e.review_by > date(2026, 1, 1) for e in entries)


def test_the_workspace_packages_are_not_audited_but_installed_ones_are() -> None:
    names = {d.canonical_name for d in installed_dependencies()}
    assert "pip-audit" in names and "fastapi" in names
    assert not any(name.startswith("anxin") for name in names)
