"""Helpers for the attack suite: raw requests, token forgery, a response collector.

Every response an attack run receives is kept (per suite) for the unmasked-number
scan at the end; responses where policy shows numbers plain to the caller
(supervisor unmask) are never collected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from anxin_profile.demo_data import DemoCustomer, generate_customers
from tests.support import REPO, RunningSuite

PROOF_DIR = REPO / "var" / "proof"
COLLECTED: dict[int, list[str]] = {}


def collect(suite: RunningSuite, response: httpx.Response) -> httpx.Response:
    """Keep a response body for the unmasked-number scan (not a granted unmask: plain by policy)."""
    request = response._request
    if request is not None and request.url.path.endswith("/unmask") and response.is_success:
        return response
    COLLECTED.setdefault(id(suite), []).append(response.text)
    return response


def report(name: str, tried: int, accepted: list[Any]) -> str:
    """Print and return the class line: "<class>: tried N, accepted M"; keep it for the
    README's Proof table (var/proof/attacks.json, one row per class, the latest run wins)."""
    line = f"{name}: tried {tried}, accepted {len(accepted)}"
    print(line)
    record_attack_class(name, tried, len(accepted))
    return line + ("" if not accepted else f"; first accepted: {accepted[:5]!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _update_proof(file: str, name: str, update: Callable[[dict[str, Any]], None]) -> None:
    path = PROOF_DIR / file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        data = {"name": name, "rows": []}
    update(data)
    data["generated_at"] = _now()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def record_attack_class(name: str, tried: int, accepted: int) -> None:
    """Store one attack class's figures in var/proof/attacks.json (replacing its last row)."""

    def update(data: dict[str, Any]) -> None:
        rows = [r for r in data["rows"] if r.get("class") != name]
        rows.append({"class": name, "tried": tried, "accepted": accepted, "at": _now()})
        data["rows"] = rows

    _update_proof("attacks.json", "attacks", update)


def record_schemathesis(test: str, **figures: int) -> None:
    """Store one bounded schemathesis run's figures in var/proof/schemathesis.json."""

    def update(data: dict[str, Any]) -> None:
        rows = [r for r in data["rows"] if r.get("test") != test]
        rows.append({"test": test, **figures, "at": _now()})
        data["rows"] = rows

    _update_proof("schemathesis.json", "schemathesis", update)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64_json(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """A token MACed by hand (python-jose refuses PEM keys as HMAC secrets)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    signing_input = f"{b64_json(header)}.{b64_json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), digest[header["alg"]]).digest()
    return f"{signing_input}.{b64(mac)}"


def raw_request(
    suite: RunningSuite,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> httpx.Response:
    """Send a request target byte for byte (HTTP clients normalize dot segments)."""
    port = suite.suite.ports["gateway"]
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    parsed.pop("transfer-encoding", None)
    parsed.pop("Transfer-Encoding", None)
    if (
        b"\r\n" in body
        and body[:1] in b"0123456789abcdef"
        and "content-length" not in {k.lower() for k in parsed}
    ):
        body = _dechunk(body)
    return httpx.Response(int(status_line.split()[1]), headers=parsed, content=body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def raw_numbers(customers: Iterable[DemoCustomer] | None = None) -> set[str]:
    """Every raw mobile, ID, card and policy number of the demo data (all alphanumeric)."""
    found: set[str] = set()
    for customer in customers if customers is not None else generate_customers():
        found.update(
            n
            for n in (
                customer.mobile,
                customer.id_number,
                customer.bank_account,
                customer.policy_number,
            )
            if n
        )
    return found


_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


def leaked_numbers(text: str, numbers: set[str]) -> set[str]:
    """Raw numbers appearing whole in `text`: a maximal alphanumeric run equal to one
    (so digit runs inside hex ids or longer tokens do not count)."""
    return numbers.intersection(_ALNUM_RUN.findall(text))


def audit_events(suite: RunningSuite, token: str, **filters: str) -> Iterator[dict[str, Any]]:
    """Every audit event the token's holder may read that matches `filters`, oldest first."""
    after = 0
    while True:
        response = suite.client.get(
            suite.gateway + "/api/v1/audit/events",
            params={**filters, "limit": "500", "after_seq": str(after)},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        yield from (item["event"] for item in body["items"])
        if body.get("next_after_seq") is None:
            return
        after = body["next_after_seq"]
