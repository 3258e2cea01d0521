"""The report's signature, its self-contained HTML and its audit figures."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from anxin_cli.compliance import html, signing
from anxin_cli.compliance.figures import event_figures
from anxin_cli.main import app

runner = CliRunner()


def sample() -> dict[str, Any]:
    return {
        "report": "anxin-compliance",
        "generated_at": "2026-11-26T12:00:00+00:00",
        "gateway": "http://gw.test",
        "period": {"since": "2026-11-01T00:00:00+00:00", "until": "2026-11-26T12:00:00+00:00"},
        "policy": {"evaluated_version": "abc", "live_version": "abc"},
        "summary": {"pass": 1, "fail": 1, "not_evidenced": 1},
        "controls": [
            {
                "id": "AX-09",
                "title": "Outsourced <staff>",
                "statement": "Contractors never unmask.",
                "requirements": {"article": ["outsourced_staff"], "pipl": ["51"]},
                "enforced_by": {"policy": ["p, outsourced_agent, …, deny"]},
                "status": "fail",
                "problem": None,
                "checks": [{"kind": "probe", "name": "unmask", "status": "fail", "detail": "200"}],
                "evidence": [
                    {
                        "seq": 3,
                        "hash": "ab" * 32,
                        "event_id": "e-3",
                        "link": "http://gw.test/api/v1/audit/events?decision_id=d",
                    }
                ],
                "checkpoints": [{"checkpoint_no": 1, "seq": 3, "head_hash": "cd" * 32}],
                "figures": [],
            }
        ],
        "figures": {
            "trail": event_figures([]),
            "alerts": {"raised": 2, "handled": 1, "open": 1},
        },
        "recorded_in_audit": {"recorded": False, "problem": "--no-record"},
    }


def test_signature_round_trip_tamper_and_wrong_key(tmp_path: Path) -> None:
    key_path, public_path = signing.key_paths(tmp_path / "keys")
    key = signing.load_or_create_key(key_path, create=True)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600 and public_path.exists()
    again = signing.load_or_create_key(key_path, create=False)
    assert signing.key_id(again.public_key()) == signing.key_id(key.public_key())
    signed = signing.sign(sample(), key)
    assert signed["signature"]["key_id"].startswith("compliance-report:")
    assert signing.verify(signed) is None
    assert signing.verify(signed, key.public_key()) is None
    tampered = json.loads(json.dumps(signed))
    tampered["summary"]["fail"] = 0
    assert "changed" in str(signing.verify(tampered))
    assert signing.verify(signed, Ed25519PrivateKey.generate().public_key()) is not None

    report = tmp_path / "report.json"
    report.write_text(json.dumps(signed), encoding="utf-8")
    assert runner.invoke(app, ["compliance", "verify", str(report)]).exit_code == 0
    report.write_text(json.dumps(tampered), encoding="utf-8")
    result = runner.invoke(app, ["compliance", "verify", str(report)])
    assert result.exit_code == 1 and '"ok": false' in result.stdout


def test_the_html_is_self_contained_with_inline_svg_charts() -> None:
    page = html.render(signing.sign(sample(), Ed25519PrivateKey.generate()))
    assert page.count("<svg") >= 3
    assert not re.search(r"<script|<link|<img|@import|src=", page)
    assert "Outsourced &lt;staff&gt;" in page  # escaped
    assert "e-3" in page and "cd" * 32 in page
    assert "not evidenced" in page


def test_figures_count_unmasks_without_a_reason() -> None:
    def rec(seq: int, **event: Any) -> dict[str, Any]:
        base = {"event_id": f"e{seq}", "occurred_at": "2026-11-26T01:00:00Z", "kind": "decision"}
        return {"seq": seq, "hash": "h", "event": {**base, **event}}

    figures = event_figures(
        [
            rec(1, producer="gateway", action="unmask", allowed=True, decision_id="a"),
            rec(2, producer="profile", action="unmask", allowed=True, unmask_reason="客户要求"),
            rec(3, producer="profile", action="unmask", allowed=True, unmask_reason=" "),
            rec(4, producer="profile", action="unmask", allowed=False),
            rec(5, producer="profile", action="read", allowed=True),
        ]
    )
    assert (figures["decisions"], figures["denials"]) == (5, 1)
    unmasks = figures["unmasks"]
    assert (unmasks["allowed"], unmasks["with_reason"], unmasks["denied"]) == (2, 1, 1)
    assert [item["seq"] for item in unmasks["without_reason"]] == [3]
