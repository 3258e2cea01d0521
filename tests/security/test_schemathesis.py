"""Issue 9, part 2: schemathesis against the gateway's `/openapi.json`, bounded for `make test`.

Every operation of the merged schema is generated (positive and negative data),
sent through the gateway with a valid token of a subject the route is meant for,
and every response goes through schemathesis's checks (all of them, including
`ignored_auth`; stateful scenarios over the inferred links too). Bounded for
`make test`: `ANXIN_SCHEMATHESIS_EXAMPLES` per operation and mode (default 3),
`ANXIN_SCHEMATHESIS_STATEFUL_EXAMPLES` scenarios (default 10); raise both for
the longer run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.security.support_attacks import record_schemathesis
from tests.support import RunningSuite

pytestmark = [
    pytest.mark.e2e,
    # schemathesis's own strategies use `random`; the warning would print the auth cache.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES = int(os.environ.get("ANXIN_SCHEMATHESIS_EXAMPLES", "3"))
STATEFUL_EXAMPLES = int(os.environ.get("ANXIN_SCHEMATHESIS_STATEFUL_EXAMPLES", "10"))
# Operations whose 422 answers rest on rules a JSON schema cannot state; there a
# schema-valid request may rightly be refused, so `positive_data_acceptance` is off
# for them (every other check stays on).
SEMANTIC_VALIDATION = {
    ("POST", "/api/v1/calls"): "the customer named must exist",
    ("POST", "/api/v1/customers"): "ID and mobile checksums, birth date matching the ID",
    ("POST", "/api/v1/calls/{session_id}/voiceprint/verification"): "the WAV must hold speech",
    ("POST", "/api/v1/audit/inspections"): "the subsidiary must be catalogued (hot-reloaded)",
    ("POST", "/api/v1/audit/inspections/{inspection_id}/findings"): "catalogued subsidiary, role",
}


def subject_for(path: str) -> str:
    """A seeded subject the route is meant for (so generated data reaches the service)."""
    if path.startswith("/api/v1/audit/"):
        return "auditor.zheng"
    if path.startswith("/api/v1/consent/"):
        return "legal.qian"
    if path.startswith("/api/v1/quality/"):
        return "steward.gu"
    return "supervisor.liu"


def gateway_schema(running_suite: RunningSuite) -> Any:
    """The gateway's live schema, with a valid token of the subject each route is for (as
    explicit auth, so `ignored_auth` probes strip it and expect 401)."""
    schema = schemathesis.openapi.from_url(running_suite.gateway + "/openapi.json")
    tokens: dict[str, str] = {}

    @schema.auth()
    class GatewayBearer:
        def get(self, case: Any, context: Any) -> str:
            subject = subject_for(case.operation.path)
            if subject not in tokens:
                tokens[subject] = running_suite.token(subject)
            return tokens[subject]

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


def excluded_for(case: Any) -> list[Any]:
    if (case.operation.method.upper(), case.operation.path) in SEMANTIC_VALIDATION:
        return [positive_data_acceptance]
    return []


def test_gateway_openapi(running_suite: RunningSuite) -> None:
    schema = gateway_schema(running_suite)
    failures: list[str] = []
    operations = 0
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode, auth_storage=schema.auth))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def check(case: Any) -> None:
                nonlocal cases
                cases += 1
                case.call_and_validate(
                    base_url=running_suite.gateway, excluded_checks=excluded_for(case)
                )

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises groups
                failures.append(f"{operation.method.upper()} {operation.path} [{mode}]: {exc}")
    line = f"schemathesis: {operations} operations, {cases} cases, {len(failures)} failures"
    print(line)
    record_schemathesis(
        "stateless",
        operations=operations,
        cases=cases,
        failures=len(failures),
        examples=EXAMPLES,
    )
    assert operations > 50
    assert failures == [], line + "\n" + "\n\n".join(failures)


def test_gateway_openapi_stateful(running_suite: RunningSuite) -> None:
    """Stateful scenarios over the links schemathesis infers between operations."""
    schema = gateway_schema(running_suite)
    base = schema.as_state_machine()
    steps: list[str] = []

    class GatewayMachine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            steps.append(f"{case.operation.method.upper()} {case.operation.path}")
            return {"base_url": running_suite.gateway}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=excluded_for(case),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    failures = 1  # until the run completes (a failing scenario raises)
    try:
        GatewayMachine.run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
        )
        failures = 0
    finally:
        record_schemathesis(
            "stateful", steps=len(steps), failures=failures, examples=STATEFUL_EXAMPLES
        )
    print(
        f"schemathesis stateful: {len(steps)} steps over {len(set(steps))} operations, 0 failures"
    )
    assert steps
