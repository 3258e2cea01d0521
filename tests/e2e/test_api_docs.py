"""The gateway's API docs (`/docs/`): Swagger UI served from the gateway itself, no CDN."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e import test_web_desk as desk
from tests.e2e.test_web_desk import expect
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e
# The desk's Chromium fixtures (one Playwright driver per module).
playwright, browser = desk.playwright, desk.browser


def test_docs_and_their_assets_come_from_the_gateway(running_suite: RunningSuite) -> None:
    page = httpx.get(f"{running_suite.gateway}/docs/", timeout=10)
    assert page.status_code == 200
    assert "://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in (
        "/docs/vendor/swagger-ui-bundle.js",
        "/docs/vendor/swagger-ui.css",
        "/docs/docs.js",
    ):
        response = httpx.get(f"{running_suite.gateway}{asset}", timeout=10)
        assert response.status_code == 200, asset
        assert response.headers["cache-control"] == "no-store"
    assert httpx.get(f"{running_suite.gateway}/docs/vendor/../web.py", timeout=10).status_code in (
        400,
        404,
    )


def test_docs_render_every_public_operation_in_chromium(
    running_suite: RunningSuite,
    browser: Any,
) -> None:
    origin = urlsplit(running_suite.gateway).netloc
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    spec = httpx.get(f"{running_suite.gateway}/openapi.json", timeout=10).json()
    page.goto(f"{running_suite.gateway}/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(spec["info"]["title"])
    operations = sum(len(methods) for methods in spec["paths"].values())
    expect(page.locator(".opblock")).to_have_count(operations)
    assert requested and all(urlsplit(url).netloc == origin for url in requested), requested
    page.close()
