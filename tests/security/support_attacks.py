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
from collections.abc import Iterable
from typing import Any

import httpx

from anxin_profile.demo_data import DemoCustomer, generate_customers
from tests.support import RunningSuite

COLLECTED: dict[int, list[str]] = {}


def collect(suite: RunningSuite, response: httpx.Response) -> httpx.Response:
    """Keep a response body for the unmasked-number scan (not a granted unmask: plain by policy)."""
    request = response._request
    if request is not None and request.url.path.endswith("/unmask") and response.is_success:
        return response
    COLLECTED.setdefault(id(suite), []).append(response.text)
    return response


def report(name: str, tried: int, accepted: list[Any]) -> str:
    """Print and return the class line: "<class>: tried N, accepted M"."""
    line = f"{name}: tried {tried}, accepted {len(accepted)}"
    print(line)
    return line + ("" if not accepted else f"; first accepted: {accepted[:5]!r}")


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
    suite: RunningSuite, method: str, target: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Send a request target byte for byte (HTTP clients normalize dot segments)."""
    port = suite.suite.ports["gateway"]
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
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
