"""Issue 3 (call sessions and step-up), end to end through the gateway on the seeded data.

Five real processes per backend. The caller is a seeded life customer calling
from their registered mobile; identity asks profile (contact points, knowledge
questions, OTP destination) over the internal API, and the gateway lends the
session's level to requests that name it in `X-Anxin-Call-Session`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from anxin_profile.demo_data import DemoCustomer, generate_customers
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e

HEADER = "X-Anxin-Call-Session"


def life_customers() -> list[DemoCustomer]:
    return [c for c in generate_customers() if c.subsidiary == "life"]


def call(
    suite: RunningSuite,
    method: str,
    path: str,
    subject: str = "agent.li",
    session: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    return suite.call(method, path, subject, session, **kwargs)


def open_call(
    suite: RunningSuite, customer: DemoCustomer, subject: str = "agent.li"
) -> dict[str, Any]:
    response = call(
        suite,
        "POST",
        "/api/v1/calls",
        subject,
        json={"ani": customer.mobile, "channel": "voice", "attestation": "A"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def answer(
    suite: RunningSuite, session_id: str, question: str, text: str, subject: str = "agent.li"
) -> httpx.Response:
    return call(
        suite,
        "POST",
        f"/api/v1/calls/{session_id}/knowledge-answers",
        subject,
        json={"question_id": question, "answer": text},
    )


def sms_for(suite: RunningSuite, reference: str) -> dict[str, str]:
    """The dev SMS sink's message for one code, once the identity relay delivered it."""
    sink = suite.suite.var_dir / "sms-sink.jsonl"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sink.exists():
            for line in sink.read_text(encoding="utf-8").splitlines():
                message = json.loads(line)
                if message["reference"] == reference:
                    return dict(message)
        time.sleep(0.2)
    raise AssertionError("the one-time code never reached the dev SMS sink")


def test_registered_number_reaches_l1_and_the_read_carries_it(
    running_suite: RunningSuite,
) -> None:
    customer = life_customers()[0]
    session = open_call(running_suite, customer)

    assert session["assurance_level"] == "L1"
    assert session["customer_id"] == customer.customer_id
    assert session["ani_masked"] == customer.mobile[:3] + "****" + customer.mobile[-4:]
    assert customer.mobile not in json.dumps(session)

    path = f"/api/v1/customers/{customer.customer_id}"
    within = call(running_suite, "GET", path, session=session["id"])
    assert within.status_code == 200, within.text
    # The name is plain from L1 on (policy: pi.identity.name view.plain at L1), and the
    # level counts for the verified customer only.
    assert within.json()["field_views"]["name"] == "plain"
    assert within.json()["field_views"]["id_number"] == "hidden"  # spi needs L2


def answer_correctly(suite: RunningSuite, session_id: str, customer: DemoCustomer) -> None:
    questions = call(suite, "GET", f"/api/v1/calls/{session_id}/knowledge-questions")
    assert questions.status_code == 200, questions.text
    asked = {q["question_id"] for q in questions.json()["questions"]}
    assert {"id_last4", "birth_date"} <= asked
    assert customer.id_number[-4:] not in questions.text
    first = answer(suite, session_id, "id_last4", customer.id_number[-4:])
    second = answer(suite, session_id, "birth_date", customer.birth_date.strftime("%Y年%m月%d日"))
    assert first.status_code == 200 and first.json()["correct"] is True, first.text
    assert second.json()["correct"] is True
    assert second.json()["session"]["assurance_level"] == "L2"
    assert customer.id_number[-4:] not in first.text + second.text


def test_knowledge_answers_raise_the_customer_read_to_l2(running_suite: RunningSuite) -> None:
    customer = life_customers()[1]
    session = open_call(running_suite, customer)
    path = f"/api/v1/customers/{customer.customer_id}"
    before = call(running_suite, "GET", path, session=session["id"])
    assert before.json()["field_views"]["id_number"] == "hidden"

    answer_correctly(running_suite, session["id"], customer)

    after = call(running_suite, "GET", path, session=session["id"])
    assert after.status_code == 200, after.text
    # spi.identity is masked from L2 on (policy.csv), for this verified customer.
    assert after.json()["field_views"]["id_number"] == "masked"
    assert after.json()["id_number"] not in (None, customer.id_number)


def test_l2_read_is_refused_with_a_problem_until_the_questions_are_answered(
    running_suite: RunningSuite,
) -> None:
    customer = life_customers()[5]
    session = open_call(running_suite, customer)
    household = f"/api/v1/customers/{customer.customer_id}/household"

    refused = call(running_suite, "GET", household, session=session["id"])
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "L2" in refused.json()["detail"]

    answer_correctly(running_suite, session["id"], customer)

    allowed = call(running_suite, "GET", household, session=session["id"])
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["customer_id"] == customer.customer_id


def test_wrong_answers_lock_the_factor(running_suite: RunningSuite) -> None:
    customer = life_customers()[2]
    session = open_call(running_suite, customer)
    wrong = "0000" if customer.id_number[-4:] != "0000" else "1111"

    results = [answer(running_suite, session["id"], "id_last4", wrong) for _ in range(3)]
    locked = answer(running_suite, session["id"], "id_last4", customer.id_number[-4:])

    assert [r.json()["correct"] for r in results] == [False, False, False]
    assert locked.status_code == 409
    assert locked.json()["factor"] == "knowledge"
    reasons = [r["signal"] for r in results[-1].json()["session"]["risk_reasons"]]
    assert "repeated_failures" in reasons
    # The lock is per customer too: a new call of the same customer is still locked.
    again = open_call(running_suite, customer)
    assert (
        answer(running_suite, again["id"], "id_last4", customer.id_number[-4:]).status_code == 409
    )


def test_one_time_code_through_the_dev_sms_sink_and_no_replay(
    running_suite: RunningSuite,
) -> None:
    customer = life_customers()[3]
    session = open_call(running_suite, customer)

    sent = call(running_suite, "POST", f"/api/v1/calls/{session['id']}/codes")
    assert sent.status_code == 202, sent.text
    message = sms_for(running_suite, sent.json()["code_id"])
    after = message["text"].split("验证码为", 1)[1]
    code = after[: len(after) - len(after.lstrip("0123456789"))]
    assert len(code) == 6 and code not in sent.text
    assert message["to_masked"].endswith(customer.mobile[-4:])

    path = f"/api/v1/calls/{session['id']}/codes/verify"
    verified = call(running_suite, "POST", path, json={"code": code})
    replayed = call(running_suite, "POST", path, json={"code": code})

    assert verified.status_code == 200, verified.text
    assert verified.json()["correct"] is True
    assert verified.json()["session"]["assurance_level"] == "L2"
    assert replayed.status_code == 409
    assert replayed.json()["reason"] == "code_used"


def test_another_agent_cannot_use_the_session(running_suite: RunningSuite) -> None:
    customer = life_customers()[4]
    session = open_call(running_suite, customer)
    path = f"/api/v1/customers/{customer.customer_id}"

    through_gateway = call(running_suite, "GET", path, "senior.chen", session=session["id"])
    answering = answer(
        running_suite, session["id"], "id_last4", customer.id_number[-4:], "senior.chen"
    )
    reading = call(running_suite, "GET", f"/api/v1/calls/{session['id']}", "senior.chen")

    assert through_gateway.status_code == 403
    assert answering.status_code == 403
    assert reading.status_code == 403
    own = call(running_suite, "GET", f"/api/v1/calls/{session['id']}").json()
    assert all(f["failures"] == 0 for f in own["factors"])
