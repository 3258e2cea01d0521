"""The gateway's public API as the report uses it: tokens per subject, audit look-ups."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

AUDITOR = "auditor.zheng"
SECURITY_ADMIN = "secadmin.wu"
TokenSource = Callable[[str], str]


class ReportAbort(RuntimeError):
    """The report cannot run at all (gateway unreachable, no token)."""


def token_file_source(path: Path) -> TokenSource:
    """Tokens from a JSON file `{"subject": "token", …}` (production: issued by the IdP)."""
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportAbort(f"cannot read the token file {path}: {exc}") from exc
    if not isinstance(tokens, dict):
        raise ReportAbort(f"{path} must map subjects to tokens")

    def source(subject: str) -> str:
        if subject not in tokens:
            raise ReportAbort(f"the token file has no token for {subject}")
        return str(tokens[subject])

    return source


class GatewayApi:
    """One httpx client to the gateway, a token per subject, cached."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        transport: httpx.BaseTransport | None = None,
        lookup_timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._cache: dict[str, str] = {}
        self.lookup_timeout = lookup_timeout
        self.client = httpx.Client(base_url=self.base_url, timeout=60, transport=transport)

    def close(self) -> None:
        """Close the pooled client."""
        self.client.close()

    def token(self, subject: str) -> str:
        """A bearer token for `subject`."""
        if subject not in self._cache:
            self._cache[subject] = self._tokens(subject)
        return self._cache[subject]

    def request(self, method: str, path: str, subject: str, **kwargs: Any) -> httpx.Response:
        """One call as `subject`; a transport failure aborts the report."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers["authorization"] = f"Bearer {self.token(subject)}"
        try:
            return self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ReportAbort(f"the gateway is unreachable: {type(exc).__name__}") from exc

    def json(self, method: str, path: str, subject: str, **kwargs: Any) -> dict[str, Any]:
        """A call that must answer 2xx with a JSON object."""
        response = self.request(method, path, subject, **kwargs)
        if response.status_code >= 300:
            raise ReportAbort(f"{method} {path} as {subject}: {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    def readyz(self) -> dict[str, Any]:
        """The gateway's readiness (policy version in force)."""
        try:
            body: dict[str, Any] = self.client.get("/readyz").json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ReportAbort(f"the gateway is unreachable: {type(exc).__name__}") from exc
        return body

    def events(self, subject: str = AUDITOR, **filters: Any) -> list[dict[str, Any]]:
        """Every audit record matching the filters (paged, oldest first)."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.json(
                "GET",
                "/api/v1/audit/events",
                subject,
                params={**filters, "after_seq": after, "limit": 500},
            )
            items.extend(page["items"])
            if page["next_after_seq"] is None:
                return items
            after = page["next_after_seq"]

    def wait_for_events(self, **filters: str) -> list[dict[str, Any]]:
        """The audit records for a request or decision, waiting for the outbox to deliver."""
        deadline = time.monotonic() + self.lookup_timeout
        while True:
            found = self.events(**filters)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.25)


def evidence_ref(record: dict[str, Any], base_url: str) -> dict[str, Any]:
    """What a control cites of an audit record, with a link that resolves it."""
    event = record["event"]
    if event.get("decision_id"):
        query = f"decision_id={event['decision_id']}"
    else:
        query = f"request_id={event.get('request_id')}"
    return {
        "seq": record["seq"],
        "hash": record["hash"],
        "event_id": event["event_id"],
        "producer": event.get("producer"),
        "actor": event.get("actor"),
        "action": event.get("action"),
        "resource": event.get("resource"),
        "allowed": event.get("allowed"),
        "decision_id": event.get("decision_id"),
        "request_id": event.get("request_id"),
        "link": f"{base_url}/api/v1/audit/events?{query}",
    }
