// The security console: a client of the public /api/v1/ API. It enforces nothing;
// each section shows what the API lets this subject see, or the API's refusal.
import {
  addMessages, api, ApiError, applyLanguage, devSubjects, el, language, setLanguage, showError,
  signInAs, signInWithToken, signOut, t,
} from "/web/anxin.js";
import { barChart, lineChart } from "./charts.js";

const $ = (id) => document.getElementById(id);
const errorRegion = $("error");
const SEVERITY_ORDER = { critical: 0, high: 1, medium: 2, low: 3 };

function guard(action) {
  return async (event) => {
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    showError(errorRegion, null);
    try {
      await action(button);
    } catch (error) {
      showError(errorRegion, error);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

async function init() {
  applyLanguage();
  const subjects = await devSubjects();
  if (Array.isArray(subjects)) {
    for (const s of subjects.filter((s) => s.kind === "user")) {
      $("subject").append(el("option", { value: s.subject, text: `${s.subject} · ${s.roles.join("/")} · ${s.subsidiary}` }));
    }
    $("dev-signin").hidden = false;
  }
}

function afterSignIn(subject) {
  $("token").value = "";
  $("who").textContent = t("signedin", { who: subject });
  $("signin").hidden = true;
  $("signout").hidden = false;
  for (const id of ["policy", "chain", "audit", "alerts", "ledger", "quality"]) $(id).hidden = false;
}

$("signin-dev").addEventListener("click", guard(async () => {
  await signInAs($("subject").value);
  afterSignIn($("subject").value);
}));
$("signin-token").addEventListener("click", guard(async () => {
  signInWithToken($("token").value);
  afterSignIn(t("signin.tokenuser"));
}));
$("signout").addEventListener("click", () => { signOut(); location.reload(); });
$("lang").addEventListener("click", () => {
  setLanguage(language() === "zh" ? "en" : "zh");
  $("lang").textContent = language() === "zh" ? "English" : "中文";
  // Sections drawn from data (tables with figures, charts) are drawn again in the new language.
  for (const [render, data] of Object.values(shown)) render(data);
});

// The last data each section drew, so a language switch can draw it again.
const shown = {};
function show(section, render, data) {
  shown[section] = [render, data];
  render(data);
}

function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(language() === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}

function table(headKeys, rows, attrs = {}) {
  const head = el("tr", {}, ...headKeys.map((k) => el("th", { scope: "col", i18n: k })));
  return el("table", { class: "grid", ...attrs }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function subsidiaryName(code) {
  return ["life", "pc", "bank", "group"].includes(code) ? t(`sub.${code}`) : code;
}

// -- Policy: live versions per replica, shadow counters --------------------------------
$("policy-load").addEventListener("click", guard(async () => {
  const data = await api.get("/api/v1/policy/version");
  $("policy-version").textContent = data.policy_version;
}));

// A replica not seen for this long may be gone (a restart gets a new process id).
const STALE_MS = 10 * 60 * 1000;

function renderStatus(status) {
  $("policy-version").textContent = status.gateway_version || "—";
  const rows = status.replicas.map((r) => el("tr", { "data-service": r.service, "data-instance": r.instance },
    el("td", { text: r.service }),
    el("td", { class: "rule", text: r.instance }),
    el("td", { class: "rule", text: r.policy_version }),
    el("td", { class: r.agrees ? "ok" : "bad", i18n: r.agrees ? "status.agrees" : "status.differs" }),
    el("td", { i18n: `status.source.${r.source}` }),
    el("td", {}, when(r.last_seen), ...(Date.now() - Date.parse(r.last_seen) > STALE_MS
      ? [el("span", { class: "badge warn", text: t("status.stale") })] : [])),
    el("td", { class: r.policy_error ? "bad" : "", text: r.policy_error || "—" })));
  const parts = [table(["status.service", "status.instance", "status.version", "status.agreement", "status.source", "status.lastseen", "status.error"], rows, { id: "status-table" })];
  if (status.unreachable.length) {
    parts.unshift(el("p", { class: "bad", text: t("status.unreachable", { list: status.unreachable.join(", ") }) }));
  }
  parts.unshift(el("p", { class: "hint", text: t("status.checked", { at: when(status.checked_at) }) }));
  $("status-result").replaceChildren(...parts);

  const shadows = status.replicas.filter((r) => r.shadow);
  if (!shadows.length) {
    $("shadow-result").replaceChildren(el("p", { id: "shadow-none", i18n: "shadow.none" }));
    return;
  }
  const shadowRows = shadows.map((r) => el("tr", { "data-service": r.service, "data-instance": r.instance },
    el("td", { text: r.service }), el("td", { class: "rule", text: r.instance }),
    el("td", { class: "rule", text: r.shadow.version || "—" }),
    el("td", { text: String(r.shadow.compared) }),
    el("td", { class: r.shadow.differences ? "bad" : "ok", "data-differences": String(r.shadow.differences), text: String(r.shadow.differences) }),
    el("td", { class: r.shadow.error ? "bad" : "", text: r.shadow.error || "—" })));
  $("shadow-result").replaceChildren(
    table(["status.service", "status.instance", "shadow.version", "shadow.compared", "shadow.differences", "status.error"], shadowRows, { id: "shadow-table" }));
}

$("status-load").addEventListener("click", guard(async () => {
  show("status", renderStatus, await api.get("/api/v1/policy/status"));
}));

// -- Policy: lint, cases and coverage ---------------------------------------------------
function renderChecks(c) {
  const lintOk = c.lint.errors === 0;
  const facts = [
    ["checks.folder", c.folder_version || "—"], ["checks.live", c.live_version || "—"],
    ["checks.lint", t("checks.lintcount", { e: c.lint.errors, w: c.lint.warnings })],
  ];
  const parts = [];
  const tests = c.tests;
  if (tests.error) {
    facts.push(["checks.cases", t("checks.caseserror", { error: tests.error })]);
  } else {
    facts.push(["checks.cases", t("checks.casescount", { p: tests.passed, f: tests.failed })]);
    facts.push(["checks.coverage", t("checks.coveragetext", {
      pct: (tests.coverage * 100).toFixed(1), covered: tests.covered, rules: tests.rules,
      threshold: (tests.threshold * 100).toFixed(0),
    })]);
  }
  const list = el("dl", { class: "facts", id: "checks-facts" }, ...facts.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: String(v) })]));
  list.children[5].className = lintOk ? "ok" : "bad";
  parts.push(list);
  if (!tests.error) {
    list.children[7].className = tests.failed === 0 ? "ok" : "bad";
    const meter = el("meter", { id: "coverage-meter", min: "0", max: "1", low: String(tests.threshold), optimum: "1", value: String(tests.coverage) });
    meter.setAttribute("aria-label", t("checks.coverage"));
    parts.push(el("p", {}, meter, el("span", { class: tests.coverage_ok ? "ok" : "bad", text: ` ${(tests.coverage * 100).toFixed(1)}%` })));
    if (tests.failures.length) parts.push(el("ul", { class: "plain bad" }, ...tests.failures.map((f) => el("li", { text: f }))));
    if (tests.uncovered.length) {
      parts.push(el("details", {}, el("summary", { text: t("checks.uncovered", { n: tests.rules - tests.covered }) }),
        el("ul", { class: "plain rule" }, ...tests.uncovered.map((u) => el("li", { text: `policy.csv:${u.line}: ${u.rule}` })))));
    }
  }
  if (c.lint.messages.length) {
    parts.push(el("details", {}, el("summary", { text: t("checks.lintmessages", { n: c.lint.messages.length }) }),
      el("ul", { class: "plain rule" }, ...c.lint.messages.map((m) => el("li", { text: m })))));
  }
  $("checks-result").replaceChildren(...parts);
}

$("checks-run").addEventListener("click", guard(async () => {
  $("checks-progress").textContent = t("checks.running");
  try {
    show("checks", renderChecks, await api.get("/api/v1/policy/checks"));
  } finally {
    $("checks-progress").textContent = "";
  }
}));

// -- Policy: explain one decision ---------------------------------------------------------
function parseFacts(text) {
  const facts = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new Error(t("explain.badfact", { line }));
    const value = line.slice(at + 1).trim();
    facts[line.slice(0, at).trim()] = value === "true" ? true : value === "false" ? false : value;
  }
  return facts;
}

function ruleTable(id, effect, rules) {
  const rows = rules.map((r) => el("tr", { class: `rule-${effect}` },
    el("td", { text: `policy.csv:${r.line}` }), el("td", { class: "rule", text: r.rule })));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "2", i18n: "explain.nomatch" })));
  return table(["explain.line", "explain.rule"], rows, { id });
}

// A failed fact in plain words where there are some (`policy`, `assurance_level`), else its name.
function failedText(fact) {
  const key = `failed.${fact}`;
  const text = t(key);
  return text === key ? fact : text;
}

function renderExplain(x) {
  const d = x.decision;
  const chain = x.role_chain.length
    ? x.role_chain.map((c) => `${c.name} → ${c.role}（${subsidiaryName(c.subsidiary)}）`).join("；")
    : t("explain.norole");
  const facts = [
    ["explain.request", `${d.subject} · ${subsidiaryName(d.domain)} · ${d.resource} · ${d.action} · ${d.assurance_level}`],
    ["explain.version", `${d.policy_version}（${x.engine}）`],
    ["explain.chain", chain],
    ["explain.matched", d.matched_rule || t("explain.none")],
    ["explain.failed", d.failed_fact ? failedText(d.failed_fact) : t("explain.none")],
    ["explain.reasons", d.reasons.join("；")],
  ];
  const parts = [
    el("p", {}, el("span", { id: "explain-verdict", class: `verdict ${d.allowed ? "allow" : "deny"}`, i18n: d.allowed ? "explain.allow" : "explain.deny" })),
    el("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: v })])),
    el("h4", { text: t("explain.denyrules", { n: x.matching_deny_rules.length }) }),
    ruleTable("explain-deny", "deny", x.matching_deny_rules),
    el("h4", { text: t("explain.allowrules", { n: x.matching_allow_rules.length }) }),
    ruleTable("explain-allow", "allow", x.matching_allow_rules),
  ];
  const views = Object.entries(d.field_views || {});
  if (views.length) {
    parts.push(el("details", {}, el("summary", { i18n: "explain.views" }),
      el("ul", { class: "plain" }, ...views.sort().map(([k, v]) => el("li", { text: `${k}: ${t(`view.${v}`)}` })))));
  }
  $("explain-result").replaceChildren(...parts);
}

// Explain an audited decision again, on the live policy (which may have changed since).
function explainEvent(e) {
  const subsidiary = $("x-subsidiary");
  if (![...subsidiary.options].some((o) => o.value === e.domain)) {
    subsidiary.append(el("option", { value: e.domain, text: e.domain }));
  }
  $("x-subject").value = e.actor;
  subsidiary.value = e.domain;
  $("x-resource").value = e.resource;
  $("x-action").value = e.action;
  $("x-level").value = e.assurance_level || "L0";
  $("x-facts").value = "";
  $("explain-form").requestSubmit();
  $("explain-form").scrollIntoView();
}

$("explain-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guard(async () => {
    const body = {
      subject: $("x-subject").value.trim(), subsidiary: $("x-subsidiary").value,
      resource: $("x-resource").value.trim(), action: $("x-action").value.trim(),
      level: $("x-level").value, facts: parseFacts($("x-facts").value),
    };
    $("explain-result").replaceChildren();
    show("explain", renderExplain, await api.post("/api/v1/policy/explain", body));
  })({ currentTarget: $("explain-run") });
});

// -- Policy: diff a candidate against the live policy -------------------------------------
function flipRow(f) {
  const key = [f.subject, f.subsidiary, f.resource, f.action, f.level].join("|");
  return el("tr", { "data-flip": key, class: f.after === "allow" || f.after === "plain" ? "rule-allow" : "rule-deny" },
    el("td", { i18n: f.kind === "decision" ? "diff.kind.decision" : "diff.kind.view" }),
    el("td", { text: f.subject }), el("td", { text: subsidiaryName(f.subsidiary) }),
    el("td", { text: `${f.resource} ${f.action}` }), el("td", { text: f.level }),
    el("td", { text: `${t(`flip.${f.before}`)} → ${t(`flip.${f.after}`)}` }),
    el("td", { class: "rule", text: f.kind === "decision" ? (f.after_rule || f.before_rule || "—") : "—" }));
}

function renderDiff(r) {
  const toAllow = r.flips.filter((f) => f.kind === "decision" && f.after === "allow").length;
  const parts = [
    el("p", { id: "diff-summary", text: t("diff.summary", {
      base: r.base_version, head: r.head_version, d: r.decisions_compared, v: r.views_compared,
      flips: r.decision_flips, views: r.view_flips,
    }) }),
  ];
  if (!r.decision_flips && !r.view_flips) {
    parts.push(el("p", { class: "ok", id: "diff-nochange", i18n: "diff.nochange" }));
  } else {
    const counts = r.counts.map((c) => el("tr", {},
      el("td", { text: String(c.count) }), el("td", { i18n: c.kind === "decision" ? "diff.kind.decision" : "diff.kind.view" }),
      el("td", { text: `${c.resource} ${c.action}` }), el("td", { text: `${t(`flip.${c.before}`)} → ${t(`flip.${c.after}`)}` })));
    parts.push(table(["diff.count", "diff.kind", "diff.what", "diff.change"], counts, { id: "diff-counts" }));
    parts.push(el("h4", { text: t("diff.flips", { n: Math.min(r.flips.length, 200), total: r.decision_flips + r.view_flips }) }));
    parts.push(el("div", { class: "scroll" }, table(["diff.kind", "explain.subject", "explain.subsidiary", "diff.what", "explain.level", "diff.change", "diff.rule"],
      r.flips.slice(0, 200).map(flipRow), { id: "diff-flips" })));
    if (toAllow) parts.push(el("p", { class: "bad", text: t("diff.widens", { n: toAllow }) }));
  }
  if (r.warnings.length) parts.push(el("ul", { class: "plain" }, ...r.warnings.map((w) => el("li", { text: w }))));
  $("diff-result").replaceChildren(...parts);
}

function renderDiffProblem(problem) {
  const messages = Array.isArray(problem.lint) ? problem.lint : [];
  $("diff-result").replaceChildren(
    el("p", { class: "bad", id: "diff-refused", text: problem.detail || problem.title || "" }),
    el("ul", { class: "plain rule", id: "diff-problems" }, ...messages.map((m) => el("li", { text: m }))));
}

$("diff-file").addEventListener("change", guard(async () => {
  const file = $("diff-file").files[0];
  if (file) $("diff-text").value = await file.text();
}));

$("diff-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guard(async () => {
    delete shown.diff;
    $("diff-result").replaceChildren();
    $("diff-progress").textContent = t("diff.running");
    try {
      show("diff", renderDiff, await api.post("/api/v1/policy/diff", { policy_csv: $("diff-text").value }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) renderDiffProblem(error.problem);
      throw error;
    } finally {
      $("diff-progress").textContent = "";
    }
  })({ currentTarget: $("diff-run") });
});
// Verify in ranges, each chained to the last by its head hash, so the bar shows real progress.
const CHAIN_RANGE = 5000;
async function showLastCheckpoint() {
  const { items } = await api.get("/api/v1/audit/checkpoints?limit=1");
  const cp = items[0];
  const facts = cp
    ? [["chain.lastcp", `#${cp.checkpoint_no}`], ["chain.lastcpseq", cp.seq],
       ["chain.lastcphash", cp.head_hash.slice(0, 16) + "…"], ["chain.lastcpat", cp.taken_at]]
    : [["chain.lastcp", "—"]];
  $("chain-checkpoint").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: String(v) })]));
}
$("chain-verify").addEventListener("click", guard(async () => {
  $("chain-result").replaceChildren();
  const bar = $("chain-bar");
  bar.hidden = false;
  bar.value = 0;
  $("chain-progress").textContent = t("chain.running");
  try {
    await showLastCheckpoint();
    let from = 1, prev = null, records = 0, checkpoints = 0, r;
    for (;;) {
      const query = new URLSearchParams({ from_seq: String(from), to_seq: String(from + CHAIN_RANGE - 1) });
      if (prev) query.set("expected_prev_hash", prev);
      r = await api.get(`/api/v1/audit/chain/verify?${query}`);
      records += r.records;
      checkpoints += r.checkpoints_verified;
      const head = Math.max(r.chain_head_seq, 1);
      bar.value = Math.min(r.head_seq / head, 1);
      $("chain-progress").textContent = `${t("chain.running")} ${r.head_seq} / ${r.chain_head_seq}`;
      if (!r.ok || r.head_seq >= r.chain_head_seq || r.records === 0) break;
      from = r.head_seq + 1;
      prev = r.head_hash;
    }
    bar.value = r.ok ? 1 : bar.value;
    $("chain-progress").textContent = "";
    const facts = [
      ["chain.status", r.ok ? t("chain.ok") : t("chain.bad")],
      ["chain.records", records], ["chain.head", r.head_seq],
      ["chain.checkpoints", checkpoints],
      ["chain.firstbad", r.first_bad_seq ?? "—"], ["chain.problem", r.problem ?? "—"],
    ];
    $("chain-result").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: String(v) })]));
    $("chain-result").className = `facts ${r.ok ? "ok" : "bad"}`;
  } catch (error) {
    $("chain-progress").textContent = "";
    throw error;
  }
}));


// An outreach message is audited in typed fields, not reasons: show its template and status.
function eventReasons(e) {
  if (e.kind !== "outreach.message") return (e.reasons || []).join("; ");
  const status = [e.delivery_status, e.delivery_reason].filter(Boolean).join(": ");
  return [e.message_template, status].filter(Boolean).join(" · ");
}

function eventTable(records) {
  const head = el("tr", {}, ...["audit.seq", "audit.time", "audit.actor", "audit.what", "audit.customer", "audit.decision", "audit.reasons", "audit.decisionid", "audit.explain"]
    .map((k) => el("th", { scope: "col", i18n: k })));
  const rows = records.map((r) => {
    const e = r.event;
    const explain = el("button", { type: "button", class: "secondary explain-row", i18n: "audit.explainthis" });
    explain.disabled = !e.domain;
    explain.addEventListener("click", () => explainEvent(e));
    return el("tr", { "data-decision-id": e.decision_id || "" },
      el("td", { text: String(r.seq ?? "") }),
      el("td", { text: e.occurred_at }),
      el("td", { text: `${e.actor}${e.actor_subsidiary ? ` (${e.actor_subsidiary})` : ""}` }),
      el("td", { text: `${e.action} ${e.resource}` }),
      el("td", { text: e.customer_ref || "—" }),
      el("td", { class: e.allowed ? "ok" : "bad", i18n: e.allowed ? "audit.allowed" : "audit.denied" }),
      el("td", { text: eventReasons(e) }),
      el("td", { text: e.decision_id || "—" }),
      el("td", {}, explain));
  });
  return el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

$("audit-search").addEventListener("click", guard(async () => {
  const params = new URLSearchParams({ limit: "100" });
  const filters = { actor: "f-actor", customer_ref: "f-customer", resource: "f-resource", decision_id: "f-decision-id", decision: "f-decision" };
  for (const [name, id] of Object.entries(filters)) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  const page = await api.get(`/api/v1/audit/events?${params}`);
  const items = page.items.slice().reverse(); // newest first
  $("audit-results").replaceChildren(
    el("p", { text: t("audit.count", { n: items.length }) }), eventTable(items));
}));

$("audit-who").addEventListener("click", guard(async () => {
  const customer = $("f-customer").value.trim();
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(customer)) throw new Error(t("audit.needcustomer"));
  const data = await api.get(`/api/v1/audit/customers/${customer}/accesses`);
  const head = el("tr", {}, ...["audit.actor", "audit.roles", "audit.accesses", "audit.denials", "audit.actions"]
    .map((k) => el("th", { scope: "col", i18n: k })));
  const rows = data.actors.map((a) => el("tr", {},
    el("td", { text: `${a.actor}${a.actor_subsidiary ? ` (${a.actor_subsidiary})` : ""}` }),
    el("td", { text: a.roles.join(", ") }), el("td", { text: String(a.accesses) }),
    el("td", { text: String(a.denied) }), el("td", { text: a.actions.join(", ") })));
  $("audit-results").replaceChildren(el("h3", { text: t("audit.whofor", { id: customer }) }),
    el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}));

async function loadAlerts() {
  const page = await api.get("/api/v1/audit/alerts?limit=200");
  const alerts = (page.items || []).slice().sort((a, b) =>
    (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9));
  const rows = alerts.map((a) => {
    const ack = el("button", { type: "button", class: "secondary", i18n: "alerts.ack" });
    ack.disabled = a.status !== "open";
    ack.addEventListener("click", guard(async () => {
      await api.post(`/api/v1/audit/alerts/${a.alert_id}/acknowledge`, {});
      await loadAlerts();
    }));
    const esc = el("button", { type: "button", class: "secondary", i18n: "alerts.escalate" });
    esc.addEventListener("click", guard(async () => {
      await api.post(`/api/v1/audit/alerts/${a.alert_id}/escalate`, {});
      await loadAlerts();
    }));
    return el("tr", {},
      el("td", { class: a.severity === "critical" || a.severity === "high" ? "bad" : "", text: a.severity }),
      el("td", { text: a.rule }), el("td", { text: a.summary }), el("td", { text: a.actor || "—" }),
      el("td", { text: t("alerts.evidence", { n: a.evidence.length }) }),
      el("td", { text: `${a.status}${a.escalation_level ? ` ↑${a.escalation_level}` : ""}` }),
      el("td", {}, ack, esc));
  });
  const head = el("tr", {}, ...["alerts.severity", "alerts.rule", "alerts.summary", "audit.actor", "alerts.evidencecol", "alerts.status", "alerts.actions"]
    .map((k) => el("th", { scope: "col", i18n: k })));
  $("alerts-list").replaceChildren(el("p", { text: t("audit.count", { n: alerts.length }) }),
    el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}
$("alerts-load").addEventListener("click", guard(loadAlerts));

// -- Internal-audit ledger: inspections, findings, deadlines -------------------------------
const SEVERITY_CLASS = { critical: "bad", high: "bad", medium: "", low: "" };
const LEDGER_INSPECTIONS = 20;

function renderLedger({ inspections, overdue }) {
  const late = new Map(overdue.items.map((o) => [o.finding_id, o]));
  const overdueRows = overdue.items.map((o) => el("tr", { class: "overdue", "data-finding": o.finding_id },
    el("td", { text: o.inspection_title }), el("td", { text: o.summary }),
    el("td", { class: SEVERITY_CLASS[o.severity] ?? "", text: t(`sev.${o.severity}`) }),
    el("td", { text: `${o.responsible_role} · ${subsidiaryName(o.responsible_subsidiary)}` }),
    el("td", { class: "deadline", text: o.deadline }),
    el("td", { text: t("ledger.daysover", { n: o.days_overdue }) }),
    el("td", { text: t(`fstatus.${o.status}`) })));
  $("overdue-result").replaceChildren(
    el("h3", { text: t("ledger.overdue", { n: overdue.items.length, asof: overdue.as_of }) }),
    overdueRows.length
      ? table(["ledger.inspection", "ledger.summary", "alerts.severity", "ledger.responsible", "ledger.deadline", "ledger.late", "alerts.status"], overdueRows, { id: "overdue-table" })
      : el("p", { class: "ok", i18n: "ledger.nooverdue" }));

  const blocks = inspections.items.map((i) => {
    const rows = i.findings.map((f) => {
      const o = late.get(f.finding_id);
      return el("tr", { class: o ? "overdue" : "", "data-finding": f.finding_id },
        el("td", { text: f.summary }),
        el("td", { class: SEVERITY_CLASS[f.severity] ?? "", text: t(`sev.${f.severity}`) }),
        el("td", { text: `${f.responsible_role} · ${subsidiaryName(f.responsible_subsidiary)}` }),
        el("td", { class: "deadline" }, f.deadline, ...(o ? [el("span", { class: "badge", text: t("ledger.daysover", { n: o.days_overdue }) })] : [])),
        el("td", { text: t(`fstatus.${f.status}`) }),
        el("td", { class: f.evidence_verified ? "ok" : "bad", text: t(f.evidence_verified ? "ledger.verified" : "ledger.unverified", { n: f.evidence.length }) }));
    });
    return el("div", { class: "inspection", "data-inspection": i.inspection_id },
      el("h4", { text: i.title }),
      el("p", { class: "meta", text: t("ledger.meta", { sub: subsidiaryName(i.subsidiary), date: i.inspection_date, who: i.inspector, scope: i.scope }) }),
      rows.length
        ? table(["ledger.summary", "alerts.severity", "ledger.responsible", "ledger.deadline", "alerts.status", "ledger.evidence"], rows)
        : el("p", { class: "hint", i18n: "ledger.nofindings" }));
  });
  $("ledger-result").replaceChildren(
    el("h3", { text: t("ledger.inspections", { n: inspections.items.length }) }),
    el("p", { class: "hint", text: t("ledger.newest", { n: LEDGER_INSPECTIONS }) }), ...blocks);
}

$("ledger-load").addEventListener("click", guard(async () => {
  const [page, overdue] = await Promise.all([
    api.get(`/api/v1/audit/inspections?limit=${LEDGER_INSPECTIONS}`),
    api.get("/api/v1/audit/reports/overdue-findings"),
  ]);
  // The list carries no findings: read each inspection (the newest few) with its findings.
  const items = await Promise.all(page.items.map((i) => api.get(`/api/v1/audit/inspections/${encodeURIComponent(i.inspection_id)}`)));
  show("ledger", renderLedger, { inspections: { items }, overdue });
}));

// -- Data quality by subsidiary: bars (open, fixed, overdue) and the daily trend ------------
const QUALITY_SERIES = ["open", "fixed", "overdue"];

function renderQuality(report) {
  const subs = Object.keys(report.subsidiaries).sort();
  const groups = subs.map((key) => ({ key, label: subsidiaryName(key) }));
  const series = QUALITY_SERIES.map((key) => ({ key, label: t(`quality.${key}`) }));
  const bars = barChart({
    label: t("quality.barstitle"), groups, series,
    value: (sub, key) => report.subsidiaries[sub][key],
  });
  bars.id = "quality-bars-svg";
  const days = subs.length ? report.subsidiaries[subs[0]].trend.map((p) => p.day.slice(5)) : [];
  const lines = subs.flatMap((sub) => ["open", "overdue"].map((key) => ({
    key: `${sub}:${key}`, label: `${subsidiaryName(sub)}·${t(`quality.${key}`)}`,
    cls: `sub-${sub}`, dashed: key === "overdue",
    values: report.subsidiaries[sub].trend.map((p) => p[key]),
  })));
  const trend = lineChart({ label: t("quality.trendtitle"), xLabels: days, lines });
  trend.id = "quality-trend-svg";
  $("quality-bars").replaceChildren(el("figcaption", { i18n: "quality.barstitle" }), bars);
  $("quality-trend").replaceChildren(el("figcaption", { i18n: "quality.trendtitle" }), trend);
  const rows = subs.map((sub) => {
    const s = report.subsidiaries[sub];
    return el("tr", { "data-subsidiary": sub }, el("td", { text: subsidiaryName(sub) }),
      el("td", { text: String(s.open) }), el("td", { text: String(s.fixed) }),
      el("td", { class: s.overdue ? "bad" : "", text: String(s.overdue) }), el("td", { text: String(s.total) }));
  });
  $("quality-table").replaceChildren(
    el("p", { class: "hint", text: t("quality.generated", { at: when(report.generated_at), days: report.days }) }),
    table(["quality.subsidiary", "quality.open", "quality.fixed", "quality.overdue", "quality.total"], rows, { id: "quality-figures" }));
}

$("quality-load").addEventListener("click", guard(async () => {
  const params = new URLSearchParams({ days: String(Math.min(366, Math.max(1, Number($("q-days").value) || 14))) });
  if ($("q-subsidiary").value) params.set("subsidiary", $("q-subsidiary").value);
  show("quality", renderQuality, await api.get(`/api/v1/quality/reports?${params}`));
}));

addMessages({
  "console.title": ["安信安全控制台", "Anxin security console"],
  "console.enforce": ["本页面不做权限判断：每一项能否查看由 API 按策略决定。", "This page enforces nothing: the API decides, by policy, what you may see."],
  "signout": ["退出", "Sign out"],
  "signedin": ["当前用户：{who}", "Signed in as {who}"],
  "signin.title": ["登录", "Sign in"],
  "signin.subject": ["选择演示账号（仅开发环境）", "Choose a demo subject (dev only)"],
  "signin.go": ["登录", "Sign in"],
  "signin.token": ["或粘贴身份提供方签发的访问令牌", "Or paste a bearer token from the identity provider"],
  "signin.usetoken": ["使用令牌登录", "Sign in with token"],
  "signin.tokenuser": ["令牌用户", "token user"],
  "policy.title": ["策略", "Policy"],
  "policy.load": ["查看生效版本", "Show live version"],
  "policy.version": ["网关生效策略版本", "Gateway's live policy version"],
  "chain.title": ["审计链校验", "Audit chain verification"],
  "chain.verify": ["立即校验", "Verify now"],
  "chain.running": ["正在校验整条审计链…", "Verifying the whole chain…"],
  "chain.status": ["结果", "Result"],
  "chain.ok": ["完整，未被篡改", "Intact"],
  "chain.bad": ["发现问题", "Problem found"],
  "chain.records": ["记录数", "Records"],
  "chain.head": ["链头序号", "Head sequence"],
  "chain.checkpoints": ["已验证签名检查点", "Signed checkpoints verified"],
  "chain.firstbad": ["首个异常序号", "First bad sequence"],
  "chain.problem": ["问题", "Problem"],
  "chain.lastcp": ["最近签名检查点", "Last signed checkpoint"],
  "chain.lastcpseq": ["检查点序号位置", "Checkpoint at sequence"],
  "chain.lastcphash": ["检查点链头哈希", "Checkpoint head hash"],
  "chain.lastcpat": ["签名时间", "Signed at"],
  "audit.title": ["审计检索", "Audit search"],
  "audit.actor": ["操作人", "Actor"],
  "audit.customer": ["客户号", "Customer id"],
  "audit.resource": ["资源", "Resource"],
  "audit.decisionid": ["决策编号", "Decision id"],
  "audit.decision": ["结果", "Decision"],
  "audit.any": ["全部", "any"],
  "audit.denied": ["拒绝", "denied"],
  "audit.allowed": ["允许", "allowed"],
  "audit.search": ["检索", "Search"],
  "audit.who": ["谁访问了该客户", "Who accessed this customer"],
  "audit.whofor": ["访问过客户 {id} 的人员与系统", "Who accessed customer {id}"],
  "audit.needcustomer": ["请先填写客户号。", "Enter a customer id first."],
  "audit.count": ["共 {n} 条", "{n} found"],
  "audit.seq": ["序号", "Seq"],
  "audit.time": ["时间", "Time"],
  "audit.what": ["操作", "Action"],
  "audit.reasons": ["原因", "Reasons"],
  "audit.roles": ["角色", "Roles"],
  "audit.accesses": ["访问次数", "Accesses"],
  "audit.denials": ["被拒次数", "Denied"],
  "audit.actions": ["操作", "Actions"],
  "alerts.title": ["告警队列", "Alert queue"],
  "alerts.load": ["载入告警", "Load alerts"],
  "alerts.severity": ["级别", "Severity"],
  "alerts.rule": ["规则", "Rule"],
  "alerts.summary": ["摘要", "Summary"],
  "alerts.evidencecol": ["证据", "Evidence"],
  "alerts.evidence": ["{n} 条审计记录", "{n} audit records"],
  "alerts.status": ["状态", "Status"],
  "alerts.actions": ["处理", "Actions"],
  "alerts.ack": ["确认", "Acknowledge"],
  "alerts.escalate": ["升级", "Escalate"],
  "status.title": ["各服务与副本的生效策略版本", "Live policy version per service and replica"],
  "status.load": ["刷新副本状态", "Refresh replica status"],
  "status.hint": ["网关列出自身、此刻探测到的各服务副本，以及最近转发流量中出现过的副本；有多个网关副本时请分别查看。", "The gateway lists itself, each service replica it probed just now, and every replica seen on recent proxied traffic; with several gateway replicas, ask each."],
  "status.service": ["服务", "Service"],
  "status.instance": ["副本（主机:进程）", "Replica (host:pid)"],
  "status.version": ["策略版本", "Policy version"],
  "status.agreement": ["与网关一致", "Matches gateway"],
  "status.agrees": ["一致", "yes"],
  "status.differs": ["不一致", "no"],
  "status.source": ["来源", "Seen by"],
  "status.source.self": ["网关自身", "gateway itself"],
  "status.source.probe": ["健康检查探测", "readiness probe"],
  "status.source.traffic": ["转发流量", "proxied traffic"],
  "status.lastseen": ["最近一次", "Last seen"],
  "status.error": ["加载错误", "Load error"],
  "status.unreachable": ["无法探测：{list}", "Not reachable: {list}"],
  "status.stale": ["久未出现，可能已下线", "not seen lately; may be gone"],
  "status.checked": ["检查时间：{at}", "Checked at {at}"],
  "shadow.title": ["影子模式差异计数", "Shadow-mode difference counters"],
  "shadow.notloaded": ["刷新副本状态后显示。", "Shown after refreshing the replica status."],
  "shadow.none": ["没有副本配置影子（候选）策略。", "No replica runs a shadow (candidate) policy."],
  "shadow.version": ["候选策略版本", "Candidate version"],
  "shadow.compared": ["已比较决策", "Decisions compared"],
  "shadow.differences": ["差异", "Differences"],
  "checks.title": ["策略检查与覆盖率", "Policy checks and coverage"],
  "checks.run": ["运行检查", "Run checks"],
  "checks.running": ["正在检查策略目录并运行全部用例…", "Linting the policy folder and running every case…"],
  "checks.folder": ["策略目录版本", "Folder version"],
  "checks.live": ["网关生效版本", "Gateway's live version"],
  "checks.lint": ["规则检查", "Lint"],
  "checks.lintcount": ["{e} 个错误，{w} 个警告", "{e} error(s), {w} warning(s)"],
  "checks.cases": ["决策用例", "Decision cases"],
  "checks.casescount": ["{p} 个通过，{f} 个失败", "{p} passed, {f} failed"],
  "checks.caseserror": ["无法运行：{error}", "Could not run: {error}"],
  "checks.coverage": ["规则覆盖率", "Rule coverage"],
  "checks.coveragetext": ["{pct}%（{covered}/{rules} 条规则，门槛 {threshold}%）", "{pct}% ({covered}/{rules} rules, threshold {threshold}%)"],
  "checks.uncovered": ["{n} 条规则未被用例覆盖", "{n} rules not covered by any case"],
  "checks.lintmessages": ["{n} 条检查消息", "{n} lint messages"],
  "explain.title": ["解释一次决策", "Explain a decision"],
  "explain.subject": ["主体（用户或系统）", "Subject (user or system)"],
  "explain.subsidiary": ["子公司", "Subsidiary"],
  "explain.resource": ["资源", "Resource"],
  "explain.action": ["操作", "Action"],
  "explain.level": ["核验级别", "Assurance level"],
  "explain.facts": ["事实（每行一项：名称=值，值为 true/false 或有效期截止日期）", "Facts (one per line: name=value, value true/false or a valid-until date)"],
  "explain.run": ["解释", "Explain"],
  "explain.badfact": ["事实格式应为 名称=值：{line}", "A fact is name=value: {line}"],
  "explain.allow": ["允许", "ALLOW"],
  "explain.deny": ["拒绝", "DENY"],
  "explain.request": ["请求", "Request"],
  "explain.version": ["策略版本", "Policy version"],
  "explain.chain": ["角色链", "Role chain"],
  "explain.norole": ["在该子公司没有任何角色", "holds no role in this subsidiary"],
  "explain.matched": ["决定性规则", "Deciding rule"],
  "explain.failed": ["未满足", "Failed"],
  "explain.reasons": ["原因", "Reasons"],
  "explain.none": ["无", "none"],
  "failed.policy": ["策略规则（没有规则允许，或拒绝规则优先）", "policy (no rule allows, or a deny rule overrides)"],
  "failed.assurance_level": ["核验级别不足", "assurance level too low"],
  "audit.explain": ["解释", "Explain"],
  "audit.explainthis": ["按现行策略解释", "Explain on live policy"],
  "explain.denyrules": ["匹配的拒绝规则（{n}）", "Matching deny rules ({n})"],
  "explain.allowrules": ["匹配的允许规则（{n}）", "Matching allow rules ({n})"],
  "explain.nomatch": ["没有匹配的规则", "No rule matches"],
  "explain.line": ["位置", "Where"],
  "explain.rule": ["规则", "Rule"],
  "explain.views": ["字段视图", "Field views"],
  "view.plain": ["明文", "plain"],
  "view.masked": ["脱敏", "masked"],
  "view.hidden": ["隐藏", "hidden"],
  "diff.title": ["候选策略与生效策略的差异", "Candidate policy against the live one"],
  "diff.file": ["选择候选 policy.csv 文件，或直接粘贴内容", "Choose a candidate policy.csv, or paste it"],
  "diff.run": ["比较", "Compare"],
  "diff.hint": ["只做比较，不会生效：候选策略在网关的临时目录中检查并加载，比较后即删除。", "Compared only, never applied: the candidate is linted and loaded in a temporary folder of the gateway, then deleted."],
  "diff.running": ["正在比较全部请求组合…", "Comparing every request…"],
  "diff.summary": ["生效 {base} → 候选 {head}：比较了 {d} 项决策和 {v} 项字段视图；{flips} 项决策翻转，{views} 项字段视图变化。", "Live {base} → candidate {head}: {d} decisions and {v} field views compared; {flips} decision(s) flip, {views} field view(s) change."],
  "diff.nochange": ["候选策略不改变任何决策或字段视图。", "The candidate changes no decision and no field view."],
  "diff.count": ["数量", "Count"],
  "diff.kind": ["类别", "Kind"],
  "diff.kind.decision": ["决策", "decision"],
  "diff.kind.view": ["字段视图", "field view"],
  "diff.what": ["资源与操作", "Resource and action"],
  "diff.change": ["变化", "Change"],
  "diff.rule": ["规则（候选 / 原）", "Rule (candidate / live)"],
  "diff.flips": ["变化明细（显示 {n} / 共 {total}）", "Changes ({n} shown of {total})"],
  "diff.widens": ["注意：{n} 项决策由拒绝变为允许。", "Note: {n} decision(s) go from deny to allow."],
  "flip.allow": ["允许", "allow"],
  "flip.deny": ["拒绝", "deny"],
  "flip.plain": ["明文", "plain"],
  "flip.masked": ["脱敏", "masked"],
  "flip.hidden": ["隐藏", "hidden"],
  "sub.life": ["人寿", "Life"],
  "sub.pc": ["财险", "P&C"],
  "sub.bank": ["银行", "Bank"],
  "sub.group": ["集团", "Group"],
  "ledger.title": ["内审台账", "Internal-audit ledger"],
  "ledger.load": ["载入检查与发现", "Load inspections and findings"],
  "ledger.overdue": ["逾期未关闭的发现：{n} 项（截至 {asof}）", "Overdue findings not closed: {n} (as of {asof})"],
  "ledger.nooverdue": ["没有逾期的发现。", "No finding is overdue."],
  "ledger.inspection": ["检查", "Inspection"],
  "ledger.summary": ["发现", "Finding"],
  "ledger.responsible": ["责任方", "Responsible"],
  "ledger.deadline": ["整改期限", "Deadline"],
  "ledger.late": ["逾期", "Late"],
  "ledger.daysover": ["逾期 {n} 天", "{n} days overdue"],
  "ledger.evidence": ["证据", "Evidence"],
  "ledger.verified": ["{n} 条，哈希已验证", "{n}, hashes verified"],
  "ledger.unverified": ["{n} 条，未通过验证", "{n}, NOT verified"],
  "ledger.meta": ["{sub} · {date} · 检查人 {who} · 范围：{scope}", "{sub} · {date} · by {who} · scope: {scope}"],
  "ledger.nofindings": ["尚无发现。", "No findings yet."],
  "ledger.inspections": ["检查：{n} 项", "Inspections: {n}"],
  "ledger.newest": ["按检查日期显示最新的至多 {n} 项；逾期发现见上表（全部）。", "The newest {n} inspections at most; every overdue finding is listed above."],
  "sev.low": ["低", "low"],
  "sev.medium": ["中", "medium"],
  "sev.high": ["高", "high"],
  "sev.critical": ["严重", "critical"],
  "fstatus.open": ["未处理", "open"],
  "fstatus.in_progress": ["整改中", "in progress"],
  "fstatus.closed": ["已关闭", "closed"],
  "quality.title": ["数据质量", "Data quality"],
  "quality.subsidiary": ["子公司", "Subsidiary"],
  "quality.all": ["全部（按权限）", "All (as permitted)"],
  "quality.days": ["趋势天数", "Trend days"],
  "quality.load": ["载入报表", "Load report"],
  "quality.barstitle": ["各子公司问题数：未解决、已修复、逾期", "Issues by subsidiary: open, fixed, overdue"],
  "quality.trendtitle": ["每日趋势：未解决（实线）与逾期（虚线）", "Daily trend: open (solid) and overdue (dashed)"],
  "quality.open": ["未解决", "open"],
  "quality.fixed": ["已修复", "fixed"],
  "quality.overdue": ["逾期", "overdue"],
  "quality.total": ["合计", "total"],
  "quality.generated": ["生成于 {at}，趋势 {days} 天", "Generated {at}, {days}-day trend"],
});

init();
