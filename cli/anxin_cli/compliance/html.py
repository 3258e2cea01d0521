"""The report as one self-contained HTML page: inline CSS and SVG charts, no external asset."""

from __future__ import annotations

from html import escape
from typing import Any

COLOURS = {"pass": "#1b7f3b", "fail": "#b42318", "not_evidenced": "#b54708"}
LABELS = {"pass": "pass", "fail": "fail", "not_evidenced": "not evidenced"}


def bar_chart(title: str, values: dict[str, int], colour: str = "#3659a8") -> str:
    """A horizontal bar chart as inline SVG."""
    if not values:
        return f"<figure><figcaption>{escape(title)}</figcaption><p>no data</p></figure>"
    top = max(max(values.values()), 1)
    row, width, label_w = 22, 360, 150
    height = row * len(values) + 10
    bars = []
    for index, (label, value) in enumerate(values.items()):
        y = 5 + index * row
        length = int(width * value / top)
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(str(label))}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{length}" height="{row - 6}" '
            f'fill="{COLOURS.get(str(label), colour)}"/>'
            f'<text x="{label_w + length + 4}" y="{y + 14}">{value}</text>'
        )
    return (
        f"<figure><figcaption>{escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'width="{label_w + width + 60}" height="{height}" font-size="12" '
        f'font-family="sans-serif">{"".join(bars)}</svg></figure>'
    )


def _link(ref: dict[str, Any]) -> str:
    label = ref.get("event_id") or ref.get("alert_id") or ref.get("head_hash") or "evidence"
    seq = f"seq {ref['seq']} · " if "seq" in ref else ""
    hash_part = f" · hash <code>{escape(str(ref['hash'])[:16])}…</code>" if ref.get("hash") else ""
    if ref.get("link"):
        return (
            f'<li>{seq}<a href="{escape(ref["link"])}"><code>{escape(str(label))}</code></a>'
            f"{hash_part}</li>"
        )
    text = ", ".join(f"{k}: {v}" for k, v in ref.items())
    return f"<li>{escape(text)}</li>"


def _control(entry: dict[str, Any]) -> str:
    status = entry["status"]
    checks = "".join(
        f'<tr><td class="{c["status"]}">{LABELS[c["status"]]}</td><td>{escape(c["name"])}</td>'
        f"<td>{escape(c['detail'])}</td></tr>"
        for c in entry["checks"]
    )
    evidence = "".join(_link(ref) for ref in entry["evidence"][:40])
    checkpoints = "".join(
        f"<li>checkpoint #{cp['checkpoint_no']} · seq {cp['seq']} · "
        f"<code>{escape(cp['head_hash'])}</code></li>"
        for cp in entry["checkpoints"]
    )
    enforced = "".join(
        f"<li><b>{escape(kind)}</b>: {escape('; '.join(items))}</li>"
        for kind, items in entry["enforced_by"].items()
        if items
    )
    reqs = (
        ", ".join(entry["requirements"]["article"])
        + " · PIPL Art. "
        + ", ".join(entry["requirements"]["pipl"])
    )
    problem = f'<p class="fail">{escape(entry["problem"])}</p>' if entry.get("problem") else ""
    return (
        f'<section class="control" id="{escape(entry["id"])}">'
        f'<h3><span class="badge {status}">{LABELS[status]}</span> '
        f"{escape(entry['id'])} — {escape(entry['title'])}</h3>"
        f'<p>{escape(entry["statement"])}</p><p class="reqs">{escape(reqs)}</p>{problem}'
        f"<details><summary>enforced by</summary><ul>{enforced}</ul></details>"
        f"<table><tr><th>result</th><th>check</th><th>detail</th></tr>{checks}</table>"
        f"<details{' open' if evidence else ''}><summary>evidence "
        f"({len(entry['evidence'])} audit references)</summary><ul>{evidence}</ul>"
        f"<ul>{checkpoints}</ul></details></section>"
    )


def render(report: dict[str, Any]) -> str:
    """The whole page."""
    figures = report.get("figures") or {}
    trail = figures.get("trail") or {}
    charts = [bar_chart("Controls by result", report["summary"])]
    if trail:
        charts.append(bar_chart("Decisions per day", trail.get("by_day", {})))
        charts.append(bar_chart("Denials per day", trail.get("denied_by_day", {}), "#b42318"))
        unmasks = trail.get("unmasks", {})
        charts.append(
            bar_chart(
                "Unmasks",
                {
                    "allowed": unmasks.get("allowed", 0),
                    "with reason": unmasks.get("with_reason", 0),
                    "denied": unmasks.get("denied", 0),
                },
            )
        )
    if "alerts" in figures:
        alerts = figures["alerts"]
        charts.append(
            bar_chart(
                "Alerts",
                {"raised": alerts["raised"], "handled": alerts["handled"], "open": alerts["open"]},
            )
        )
    if "findings" in figures or "quality" in figures:
        charts.append(
            bar_chart(
                "Overdue",
                {
                    "audit findings": (figures.get("findings") or {}).get("overdue", 0),
                    "data-quality issues": (figures.get("quality") or {}).get("overdue_issues", 0),
                },
                "#b54708",
            )
        )
    recorded = report.get("recorded_in_audit") or {}
    checkpoint = recorded.get("checkpoint") or {}
    signature = report.get("signature") or {}
    record_html = (
        f"<p>Checkpoint #{checkpoint.get('checkpoint_no')} at seq {checkpoint.get('seq')}, head "
        f"<code>{escape(str(checkpoint.get('head_hash')))}</code>; request "
        f"<code>{escape(str(recorded.get('request_id')))}</code>.</p>"
        f"<p>{escape(recorded.get('note', ''))}</p>"
        if recorded.get("recorded")
        else f'<p class="fail">Not recorded: {escape(str(recorded.get("problem")))}</p>'
    )
    attestation = report.get("attestation") or {}
    attestation_html = (
        f"<p>The signed SHA-256 below is event <code>{escape(str(attestation.get('event_id')))}"
        f"</code> at seq {escape(str(attestation.get('seq')))} (hash "
        f"<code>{escape(str(attestation.get('hash')))}</code>) of the audit chain: "
        f'<a href="{escape(str(attestation.get("link")))}">the attestation</a>. Check with '
        "<code>anxin compliance verify report.json --gateway URL</code>.</p>"
        if attestation.get("recorded")
        else f'<p class="fail">Not attested: {escape(str(attestation.get("problem")))}</p>'
    )
    summary = report["summary"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Anxin compliance report {escape(report["generated_at"])}</title>
<style>
body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
figure{{display:inline-block;margin:0 2em 1em 0;vertical-align:top}}
figcaption{{font-weight:bold;margin-bottom:.3em}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px;text-align:left;vertical-align:top}}
.badge{{color:#fff;padding:2px 8px;border-radius:4px;font-size:.8em}}
.badge.pass{{background:#1b7f3b}} .badge.fail{{background:#b42318}}
.badge.not_evidenced{{background:#b54708}}
td.pass{{color:#1b7f3b}} td.fail,p.fail{{color:#b42318}} td.not_evidenced{{color:#b54708}}
.control{{border-top:1px solid #ddd;padding-top:.5em}} .reqs{{color:#555;font-size:.9em}}
code{{font-size:.85em}}
</style></head><body>
<h1>Anxin compliance report</h1>
<p>Gateway {escape(report["gateway"])} · period {escape(report["period"]["since"])} to
{escape(report["period"]["until"])} · generated {escape(report["generated_at"])} · policy in force
<code>{escape(str(report["policy"]["live_version"]))}</code> (evaluated
<code>{escape(str(report["policy"]["evaluated_version"]))}</code>)</p>
<p><b>{summary.get("pass", 0)} pass · {summary.get("fail", 0)} fail ·
{summary.get("not_evidenced", 0)} not evidenced</b>. A control passes only when every one of
its checks passed against the running system and left evidence in the audit trail.</p>
{"".join(charts)}
<h2>Controls</h2>
{"".join(_control(entry) for entry in report["controls"])}
<h2>Recorded in the audit trail</h2>
{record_html}
<h2>Signature</h2>
<p>{escape(str(signature.get("algorithm")))} · key
<code>{escape(str(signature.get("key_id")))}</code> ·
SHA-256 <code>{escape(str(signature.get("sha256")))}</code> (over <code>report.json</code> without
its <code>signature</code> block, canonical JSON). Check with
<code>anxin compliance verify report.json</code>.</p>
{attestation_html}
</body></html>
"""
