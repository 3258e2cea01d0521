"""Fixtures that start the real suite once per backend for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import BACKENDS, POSTGRES_URL, RunningSuite, start_suite


@pytest.fixture(scope="session", params=BACKENDS)
def running_suite(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSuite]:
    """The whole suite, started once per backend for the test session."""
    backend = request.param
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("ANXIN_TEST_POSTGRES_URL is not set (CI sets it)")
    tmp = tmp_path_factory.mktemp(f"suite-{backend}")
    suite, databases, policies = start_suite(tmp, backend)
    client = httpx.Client(timeout=30)
    try:
        yield RunningSuite(suite, backend, policies, client)
    finally:
        client.close()
        suite.stop()
        if databases is not None and POSTGRES_URL:
            databases.drop(POSTGRES_URL)
