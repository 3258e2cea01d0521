"""Known vulnerabilities in the packages installed in this environment (issue 9 part 5).

pip-audit is used as a library with one vulnerability service of our own: PyPI's
*project-level* JSON (`/pypi/<name>/json`), which answers here when the per-release
JSON and OSV do not. That document lists the vulnerabilities of the project's
LATEST release only, so a package is audited only when its installed version is
that release; any other version is "not auditable here", never clean.

A finding (a vulnerability or an unauditable package) is excepted by an entry of
`security/dependency-exceptions.yaml` that names the package, its exact version,
the advisory ids (or `unauditable`), a reason and a review date. The run fails on
a known vulnerability no entry covers and on an entry past its review date. An
unexcepted unauditable package and an entry that no longer covers anything
(stale) are warnings, and fail the run too with `--strict`: any upstream release
turns an audited package unauditable, and that alone must not break a build. An
unreachable registry or an unreadable answer fails the run with its own exit
code; it never reads as "0 found".

    .venv/bin/python scripts/audit_deps.py [--exceptions FILE] [--strict]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, cast

import requests
import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pip_audit._service.interface import (
    ConnectionError as ServiceConnectionError,
)
from pip_audit._service.interface import (
    Dependency,
    ResolvedDependency,
    ServiceError,
    SkippedDependency,
    VulnerabilityResult,
    VulnerabilityService,
)
from pip_audit._service.pypi import PyPIService
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_REGISTRY = 3
EXIT_EXCEPTIONS_FILE = 4

PROJECT_URL = "https://pypi.org/pypi/{name}/json"
DEFAULT_EXCEPTIONS = Path(__file__).resolve().parent.parent / "security/dependency-exceptions.yaml"
WORKSPACE_PREFIX = "anxin"
UNAUDITABLE = "unauditable"
TIMEOUT_SECONDS = 30
WORKERS = 8


class RegistryError(ServiceConnectionError):
    """The registry could not be reached or its answer could not be read."""


class _ReplaySession:
    """Answers PyPIService's one GET with a response already fetched."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def get(self, url: str, timeout: float | None = None) -> requests.Response:
        """The fetched response, whatever the URL."""
        return self.response


class _ReplayParser(PyPIService):
    """PyPIService's own parsing of a `vulnerabilities` list, fed a fetched response."""

    def __init__(self, response: requests.Response) -> None:
        self.session = cast(Any, _ReplaySession(response))
        self.timeout = None


def default_session() -> requests.Session:
    """A session that retries connection failures and 5xx answers a few times."""
    session = requests.Session()
    retry = Retry(total=3, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class LatestReleaseService(VulnerabilityService):
    """PyPI's project-level JSON as a pip-audit vulnerability service.

    Valid only for the latest release: any other installed version comes back as
    a `SkippedDependency` ("not auditable here").
    """

    def __init__(self, session: requests.Session, timeout: float = TIMEOUT_SECONDS) -> None:
        self.session = session
        self.timeout = timeout

    def query(self, spec: Dependency) -> tuple[Dependency, list[VulnerabilityResult]]:
        """The vulnerabilities of `spec` if it is the latest release, else a skip."""
        if spec.is_skipped():
            return spec, []
        resolved = cast(ResolvedDependency, spec)
        response = self._fetch(resolved.canonical_name)
        if response is None:
            return _skip(resolved, "not found on the registry"), []
        latest = _latest_version(response, resolved.canonical_name)
        if latest != resolved.version:
            reason = (
                f"installed {resolved.version}, latest {latest}: PyPI lists "
                "vulnerabilities for the latest release only"
            )
            return _skip(resolved, reason), []
        return self._parse(resolved, response)

    def query_all(
        self, specs: Iterator[Dependency]
    ) -> Iterator[tuple[Dependency, list[VulnerabilityResult]]]:
        """Query several packages at once (order kept); the first failure cancels the rest."""
        pool = ThreadPoolExecutor(max_workers=WORKERS)
        try:
            yield from pool.map(self.query, list(specs))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, name: str) -> requests.Response | None:
        url = PROJECT_URL.format(name=name)
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"{url}: unreachable ({type(exc).__name__})") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegistryError(f"{url}: answered HTTP {response.status_code}")
        return response

    def _parse(
        self, spec: ResolvedDependency, response: requests.Response
    ) -> tuple[Dependency, list[VulnerabilityResult]]:
        try:
            return _ReplayParser(response).query(spec)
        except (KeyError, TypeError, ValueError, AttributeError, ServiceError) as exc:
            raise RegistryError(f"{spec.canonical_name}: unreadable vulnerability list") from exc


def _skip(spec: ResolvedDependency, reason: str) -> SkippedDependency:
    return SkippedDependency(name=spec.name, skip_reason=reason)


def _latest_version(response: requests.Response, name: str) -> Version:
    """`info.version` of a project-level answer that also carries a `vulnerabilities` list.

    PyPI always sends the list (empty when there is nothing); pip-audit's parser reads a
    missing one as "no vulnerabilities", so an answer without it is refused here.
    """
    try:
        document = response.json()
        if not isinstance(document.get("vulnerabilities"), list):
            raise RegistryError(f"{name}: unreadable answer (no vulnerabilities list)")
        return Version(document["info"]["version"])
    except (KeyError, TypeError, ValueError, AttributeError, InvalidVersion) as exc:
        raise RegistryError(f"{name}: unreadable answer (no info.version)") from exc


def installed_dependencies(
    distributions: Iterable[metadata.Distribution] | None = None,
) -> list[Dependency]:
    """Every distribution installed here, except the workspace's own packages."""
    found: dict[str, Dependency] = {}
    for dist in distributions if distributions is not None else metadata.distributions():
        name = dist.metadata["Name"]
        if not name or canonicalize_name(name).startswith(WORKSPACE_PREFIX):
            continue
        try:
            dep: Dependency = ResolvedDependency(name=name, version=Version(dist.version))
        except InvalidVersion:
            dep = SkippedDependency(name=name, skip_reason=f"unparsable version {dist.version}")
        found.setdefault(canonicalize_name(name), dep)
    return [found[key] for key in sorted(found)]


class ExceptionEntry(BaseModel):
    """One documented exception: a package version, what is excepted, why, until when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str = Field(min_length=1)
    version: str = Field(min_length=1)
    advisories: list[str] | Literal["unauditable"]
    reason: str = Field(min_length=20)
    review_by: date

    def matches(self, name: str, version: str) -> bool:
        """Whether this entry is about `name` at `version`."""
        return canonicalize_name(self.package) == canonicalize_name(name) and (
            _same_version(self.version, version)
        )


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


class ExceptionsFile(BaseModel):
    """The exceptions file: a list of entries."""

    model_config = ConfigDict(extra="forbid")

    exceptions: list[ExceptionEntry]


def load_exceptions(path: Path) -> list[ExceptionEntry]:
    """Read and validate the exceptions file (ValueError when it is not valid)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ExceptionsFile.model_validate(raw).exceptions
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class Finding:
    """A vulnerability or an unauditable package, and the exception covering it."""

    package: str
    version: str
    ids: frozenset[str]
    text: str
    exception: ExceptionEntry | None = None


@dataclass
class Report:
    """The outcome of one audit."""

    audited: int = 0
    findings: list[Finding] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    expired: list[ExceptionEntry] = field(default_factory=list)
    # Strict: an unexcepted unauditable package and a stale exception fail the run too.
    # Otherwise they are warnings: any upstream release makes an audited package
    # unauditable (PyPI's JSON covers the latest release only), and that alone must not
    # fail a build; a known vulnerability, an expired exception or an unreadable
    # registry always does.
    strict: bool = True

    @property
    def uncovered(self) -> list[Finding]:
        """Findings no exception covers."""
        return [finding for finding in self.findings if finding.exception is None]

    @property
    def uncovered_vulnerabilities(self) -> list[Finding]:
        """Known vulnerabilities no exception covers."""
        return [finding for finding in self.uncovered if UNAUDITABLE not in finding.ids]

    @property
    def passed(self) -> bool:
        """True when nothing fails the run (see `strict`)."""
        if self.uncovered_vulnerabilities or self.expired:
            return False
        return not (self.strict and (self.uncovered or self.stale))


def _findings(
    results: Iterable[tuple[Dependency, list[VulnerabilityResult]]], versions: dict[str, str]
) -> list[Finding]:
    found: list[Finding] = []
    for dep, vulns in results:
        version = versions.get(dep.canonical_name, "?")
        if isinstance(dep, SkippedDependency):
            found.append(Finding(dep.name, version, frozenset({UNAUDITABLE}), dep.skip_reason))
        found += [Finding(dep.name, version, ids, text) for ids, text in _merged(vulns)]
    return found


def _merged(vulns: Iterable[VulnerabilityResult]) -> list[tuple[frozenset[str], str]]:
    """One entry per advisory: entries whose ids or aliases overlap are one advisory."""
    merged: list[tuple[frozenset[str], str]] = []
    for vuln in vulns:
        ids = frozenset({vuln.id, *vuln.aliases})
        overlapping = [entry for entry in merged if entry[0] & ids]
        for entry in overlapping:
            merged.remove(entry)
            ids |= entry[0]
        merged.append((ids, overlapping[0][1] if overlapping else vuln.description))
    return merged


def _covering(finding: Finding, entries: Sequence[ExceptionEntry]) -> ExceptionEntry | None:
    for entry in entries:
        if not entry.matches(finding.package, finding.version):
            continue
        listed = {UNAUDITABLE} if entry.advisories == UNAUDITABLE else set(entry.advisories)
        if listed & finding.ids:
            return entry
    return None


def _stale(entries: Sequence[ExceptionEntry], findings: Sequence[Finding]) -> list[str]:
    stale: list[str] = []
    for entry in entries:
        mine = [f for f in findings if f.exception is entry]
        listed = [UNAUDITABLE] if entry.advisories == UNAUDITABLE else list(entry.advisories)
        unmatched = [ident for ident in listed if not any(ident in f.ids for f in mine)]
        if unmatched:
            stale.append(f"{entry.package} {entry.version}: {', '.join(unmatched)} no longer found")
    return stale


def evaluate(
    results: Sequence[tuple[Dependency, list[VulnerabilityResult]]],
    entries: Sequence[ExceptionEntry],
    today: date,
    versions: dict[str, str],
) -> Report:
    """Match the audit results (installed `versions` by canonical name) with the exceptions."""
    findings = [
        Finding(f.package, f.version, f.ids, f.text, _covering(f, entries))
        for f in _findings(results, versions)
    ]
    return Report(
        audited=len(results),
        findings=findings,
        stale=_stale(entries, findings),
        expired=[entry for entry in entries if entry.review_by < today],
    )


def _version_of(dep: Dependency) -> str:
    return str(dep.version) if isinstance(dep, ResolvedDependency) else "?"


def audit(
    service: VulnerabilityService,
    dependencies: Sequence[Dependency],
    entries: Sequence[ExceptionEntry],
    today: date,
) -> Report:
    """Query every dependency (RegistryError propagates) and evaluate the results."""
    results = list(service.query_all(iter(dependencies)))
    versions = {dep.canonical_name: _version_of(dep) for dep in dependencies}
    return evaluate(results, entries, today, versions)


def render(report: Report) -> list[str]:
    """The report as lines of text."""
    lines = []
    for finding in report.findings:
        label = "unauditable" if UNAUDITABLE in finding.ids else ", ".join(sorted(finding.ids))
        state = (
            "excepted"
            if finding.exception
            else "NOT EXCEPTED"
            if report.strict or UNAUDITABLE not in finding.ids
            else "WARNING"
        )
        lines.append(f"{state:12} {finding.package} {finding.version}: {label}")
        if not finding.exception:
            lines.append(f"{'':12} {finding.text[:300]}")
    stale_label = "STALE" if report.strict else "WARN STALE"
    lines += [f"{stale_label:12} exception {text}" for text in report.stale]
    lines += [
        f"EXPIRED      exception {e.package} {e.version}: review by {e.review_by}"
        for e in report.expired
    ]
    excepted = len(report.findings) - len(report.uncovered)
    unauditable = sum(UNAUDITABLE in finding.ids for finding in report.findings)
    lines.append(
        f"{report.audited} installed packages ({report.audited - unauditable} at their latest "
        f"release, audited; {unauditable} unauditable); {len(report.findings)} findings "
        f"({excepted} excepted, {len(report.uncovered)} not); {len(report.stale)} stale and "
        f"{len(report.expired)} expired exceptions: {'PASS' if report.passed else 'FAIL'}"
    )
    return lines


def main(argv: Sequence[str] | None = None, session: requests.Session | None = None) -> int:
    """Run the audit of this environment; the exit code says how it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exceptions", type=Path, default=DEFAULT_EXCEPTIONS)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="an unexcepted unauditable package or a stale exception fails the run too",
    )
    args = parser.parse_args(argv)
    try:
        entries = load_exceptions(args.exceptions)
    except ValueError as exc:
        print(f"exceptions file invalid: {exc}", file=sys.stderr)
        return EXIT_EXCEPTIONS_FILE
    service = LatestReleaseService(session or default_session())
    try:
        report = audit(service, installed_dependencies(), entries, date.today())
        report.strict = args.strict
    except RegistryError as exc:
        print(f"registry failure, nothing audited: {exc}", file=sys.stderr)
        return EXIT_REGISTRY
    print("\n".join(render(report)))
    return EXIT_OK if report.passed else EXIT_FINDINGS


if __name__ == "__main__":
    sys.exit(main())
