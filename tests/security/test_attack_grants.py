"""Issue 9, attack suite: grants that end (SECURITY.md, Authorization, "Grants that end").

A grant is used once while it holds (the control, which must succeed), then ended,
and every use after the end is an attack that must be refused at once, with no
waiting for caches or relays:

- a withdrawn consent: gated sharing with the recipient stops for that category,
  and for every category once all are withdrawn;
- a closed call session, and an expired one: the verification it lent (assurance,
  verified customer) no longer opens anything, with or without the header;
- an expired single-use dial reference, and a used one: the number is not resolved;
- a contractor's confidentiality agreement that lapsed (policies/catalogue.yaml):
  every call by the contractor is refused, at the gateway and the service alike.

Expiry is reached by moving the stored end into the past in the owning service's
database, or the agreement's end in the live policy folder, as the passing of time
would.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from anxin_gateway.callsessions import LIVE_WINDOW
from anxin_profile.demo_data import DemoCustomer, generate_customers
from tests.security.support_attacks import collect, report
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e

HEADER = "X-Anxin-Call-Session"
LIFE = [c for c in generate_customers() if c.subsidiary == "life"]
AFTER_END_TRIES = 3  # each read after the end is repeated: "at once" means every time


def request(
    suite: RunningSuite,
    method: str,
    path: str,
    subject: str,
    session: str | None = None,
    keep: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """One call through the gateway as `subject`; kept for the leak scan unless `keep=False`."""
    response = suite.call(method, path, subject, session, **kwargs)
    return collect(suite, response) if keep else response


def move_into_past(suite: RunningSuite, service: str, table: str, key: str, value: str) -> int:
    """Set `expires_at` of the rows where `key` = `value` to a minute ago; rows changed.

    A call session's expiry moved is recorded as identity records every change of a
    session (`call_session_change`, in the same transaction): the gateway's lease on the
    session follows that feed, and it would not learn of an edit made behind it."""
    url = suite.suite.extra_env.get(f"ANXIN_{service.upper()}_DATABASE_URL")
    engine = sa.create_engine(url or f"sqlite:///{suite.suite.var_dir / f'{service}.db'}")
    statement = sa.text(f"UPDATE {table} SET expires_at = :past WHERE {key} = :value").bindparams(  # noqa: S608 - fixed names
        sa.bindparam("past", type_=sa.DateTime(timezone=True))
    )
    try:
        with engine.begin() as connection:
            result = connection.execute(
                statement, {"past": datetime.now(UTC) - timedelta(minutes=1), "value": value}
            )
            if table == "call_session":
                connection.execute(
                    sa.text(
                        "INSERT INTO call_session_change (call_session_id, version, changed_at)"
                        " SELECT id, version, :now FROM call_session WHERE id = :value"
                    ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True))),
                    {"now": datetime.now(UTC), "value": value},
                )
            return int(result.rowcount)
    finally:
        engine.dispose()


def evidence() -> dict[str, str]:
    return {"channel": "app", "evidence_ref": f"app-receipt:{uuid.uuid4().hex[:12]}"}


# ---------------------------------------------------------------- withdrawn consent

CATEGORIES = (
    "pi.identity.name",
    "pi.contact.phone",
    "pi.contact.address",
    "pi.insurance.policy_number",
    "pi.profile.segment",
)


def _shared(suite: RunningSuite, customer: DemoCustomer) -> httpx.Response:
    return request(
        suite,
        "GET",
        f"/api/v1/shared/customers/{customer.customer_id}?purpose=cross_sell",
        "bank-crm-system",
    )


def _withdraw(suite: RunningSuite, customer: DemoCustomer, category: str) -> None:
    response = request(
        suite,
        "POST",
        "/api/v1/consent/withdrawals",
        "life-claims-system",
        json={
            "customer_id": customer.customer_id,
            "purpose": "cross_sell",
            "category": category,
            "recipient": "bank",
        }
        | evidence(),
    )
    assert response.status_code in (200, 201), response.text


def withdrawn_consent(suite: RunningSuite, accepted: list[str]) -> int:
    """Sharing after a withdrawal: the withdrawn category at once, then every category."""
    customer = LIFE[-10]
    for category in CATEGORIES:
        recorded = request(
            suite,
            "POST",
            "/api/v1/consent/records",
            "life-claims-system",
            json={
                "customer_id": customer.customer_id,
                "notice_key": "life-to-bank-cross-sell",
                "notice_version": 1,
                "category": category,
                "recipient": "bank",
            }
            | evidence(),
        )
        assert recorded.status_code == 201, recorded.text
    control = _shared(suite, customer)
    assert control.status_code == 200, control.text
    assert "mobile" in control.json()["fields"], control.text
    tried = 0
    _withdraw(suite, customer, "pi.contact.phone")
    for _ in range(AFTER_END_TRIES):
        tried += 1
        after = _shared(suite, customer)
        if after.status_code < 400 and "mobile" in after.json().get("fields", {}):
            accepted.append(f"mobile shared after its consent was withdrawn: {after.status_code}")
    for category in CATEGORIES:
        if category != "pi.contact.phone":
            _withdraw(suite, customer, category)
    for _ in range(AFTER_END_TRIES):
        tried += 1
        after = _shared(suite, customer)
        if after.status_code < 400 and after.json().get("fields"):
            accepted.append(f"fields shared after every consent was withdrawn: {after.text[:200]}")
    return tried


# ---------------------------------------------------------------- ended call sessions


def verified_call(
    suite: RunningSuite, customer: DemoCustomer, agent: str, identify: bool = False
) -> str:
    """A call session of `agent` verified to L2 for `customer` (registered ANI + knowledge);
    `identify`: the caller also gives their customer id (a number shared in a household)."""
    call = {"ani": customer.mobile, "channel": "voice", "attestation": "A"}
    if identify:
        call["customer_id"] = customer.customer_id
    opened = request(suite, "POST", "/api/v1/calls", agent, json=call)
    assert opened.status_code == 201, opened.text
    assert opened.json().get("customer_id") == customer.customer_id, opened.text
    session_id = str(opened.json()["id"])
    for question, answer in (
        ("id_last4", customer.id_number[-4:]),
        ("birth_date", customer.birth_date.strftime("%Y年%m月%d日")),
    ):
        reply = request(
            suite,
            "POST",
            f"/api/v1/calls/{session_id}/knowledge-answers",
            agent,
            json={"question_id": question, "answer": answer},
        )
        assert reply.status_code == 200, reply.text
    assert reply.json()["session"]["assurance_level"] == "L2", reply.text
    return session_id


def _after_the_call(
    suite: RunningSuite, agent: str, customer: DemoCustomer, session_id: str, how: str
) -> tuple[int, list[str]]:
    """Every read the session opened, tried again after it ended: with the header (the
    session must be refused) and without it (no L2 read without a verified call)."""
    accepted: list[str] = []
    tried = 0
    base = f"/api/v1/customers/{customer.customer_id}"
    with_header = (base, f"{base}/portrait", f"{base}/household", f"{base}/export")
    for _ in range(AFTER_END_TRIES):
        for path in with_header:
            tried += 1
            response = request(suite, "GET", path, agent, session=session_id)
            if response.status_code < 400:
                accepted.append(f"{how} session still opens {path}: {response.status_code}")
        for path in with_header[1:]:
            tried += 1
            response = request(suite, "GET", path, agent)
            if response.status_code < 400:
                accepted.append(f"{how} session, no header, {path}: {response.status_code}")
    for method, path, body in (
        ("PUT", f"/api/v1/calls/{session_id}/customer", {"customer_id": customer.customer_id}),
        (
            "POST",
            f"/api/v1/calls/{session_id}/knowledge-answers",
            {"question_id": "id_last4", "answer": customer.id_number[-4:]},
        ),
    ):
        tried += 1
        response = request(suite, method, path, agent, json=body)
        if response.status_code < 400:
            accepted.append(f"{how} session still changes: {method} {path}")
    return tried, accepted


def ended_call_sessions(suite: RunningSuite, accepted: list[str]) -> int:
    """A closed session and an expired one lend nothing from the moment they end."""
    agent = "senior.chen"
    tried = 0
    for customer, how in ((LIFE[-11], "closed"), (LIFE[-12], "expired")):
        session_id = verified_call(suite, customer, agent)
        control = request(
            suite,
            "GET",
            f"/api/v1/customers/{customer.customer_id}/household",
            agent,
            session=session_id,
        )
        assert control.status_code == 200, control.text
        if how == "closed":
            closed = request(suite, "POST", f"/api/v1/calls/{session_id}/close", agent)
            assert closed.status_code == 200, closed.text
        else:
            assert move_into_past(suite, "identity", "call_session", "id", session_id) == 1
            # A real expiry is known to the gateway in advance (the lease ends a second
            # before it); this one is made behind its back, so it counts from the moment
            # the gateway can have read it from identity's feed.
            time.sleep(LIVE_WINDOW)
        more, found = _after_the_call(suite, agent, customer, session_id, how)
        tried += more
        accepted += found
    return tried


# ---------------------------------------------------------------- dial references


def _call_list(suite: RunningSuite) -> dict[str, Any]:
    created = request(
        suite,
        "POST",
        "/api/v1/outbound/call-lists",
        "agent.wang",
        json={"name": "grant-end probe", "limit": 3},
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    assert body["entries"], created.text
    return body


def _resolve(suite: RunningSuite, ref: str) -> httpx.Response:
    # A granted resolve answers the plain number by design: never collected for the scan.
    return request(
        suite, "POST", f"/api/v1/dial-references/{ref}/resolve", "telephony-platform", keep=False
    )


def ended_dial_references(suite: RunningSuite, accepted: list[str]) -> int:
    """An expired reference and a used one resolve to nothing."""
    tried = 0
    fresh = _call_list(suite)
    refs = [entry["dial_ref"] for entry in fresh["entries"]]
    control = _resolve(suite, refs[0])
    assert control.status_code == 200, control.text
    for _ in range(AFTER_END_TRIES):
        tried += 1
        if (again := _resolve(suite, refs[0])).status_code < 400:
            accepted.append(f"used dial reference resolved again: {again.status_code}")
    expired = _call_list(suite)
    assert move_into_past(suite, "profile", "profile_dial_reference", "list_id", expired["list_id"])
    for entry in expired["entries"]:
        for _ in range(AFTER_END_TRIES):
            tried += 1
            if (late := _resolve(suite, entry["dial_ref"])).status_code < 400:
                accepted.append(f"expired dial reference resolved: {late.status_code}")
    return tried


def _policy_versions(suite: RunningSuite) -> set[str]:
    return {
        suite.client.get(suite.suite.url(service) + "/readyz").json()["policy_version"]
        for service in ("gateway", "profile")
    }


def _until_policy(suite: RunningSuite, done: Any) -> None:
    deadline = time.monotonic() + 20
    while not done(_policy_versions(suite)) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert done(_policy_versions(suite)), "the policy did not reload in time"


def lapsed_agreements(suite: RunningSuite, accepted: list[str]) -> int:
    """The contractor reads while the agreement holds, and nothing once it has lapsed."""
    catalogue = suite.policies_dir / "catalogue.yaml"
    original = catalogue.read_text(encoding="utf-8")
    window = "valid_from: 2026-01-01, valid_until: 2030-12-31"
    assert window in original
    customer = next(c for c in generate_customers() if c.subsidiary == "pc")
    session = verified_call(suite, customer, "contractor.sun", identify=True)
    reads = [f"/api/v1/customers/{customer.customer_id}/{view}" for view in ("", "portrait")]
    reads = [path.rstrip("/") for path in reads]
    for path in reads:
        control = request(suite, "GET", path, "contractor.sun", session=session)
        assert control.status_code == 200, control.text
    (before,) = _policy_versions(suite)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    tried = 0
    try:
        catalogue.write_text(
            original.replace(window, f"valid_from: 2024-01-01, valid_until: {yesterday}"),
            encoding="utf-8",
        )
        _until_policy(suite, lambda versions: before not in versions and len(versions) == 1)
        for path in reads:
            for _ in range(AFTER_END_TRIES):
                tried += 1
                late = request(suite, "GET", path, "contractor.sun", session=session)
                if late.status_code != 403:
                    accepted.append(f"lapsed agreement: {path} answered {late.status_code}")
    finally:
        catalogue.write_text(original, encoding="utf-8")
        _until_policy(suite, lambda versions: versions == {before})
    return tried


def test_ending_grants_stop_access_at_once(running_suite: RunningSuite) -> None:
    accepted: list[str] = []
    tried = lapsed_agreements(running_suite, accepted)
    tried += withdrawn_consent(running_suite, accepted)
    tried += ended_call_sessions(running_suite, accepted)
    tried += ended_dial_references(running_suite, accepted)
    line = report("ending grants", tried, accepted)
    assert accepted == [], line
