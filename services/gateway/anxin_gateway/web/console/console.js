// The security console: a client of the public /api/v1/ API. It enforces nothing;
// each section shows what the API lets this subject see, or the API's refusal.
import {
  addMessages, api, applyLanguage, devSubjects, el, language, setLanguage, showError,
  signInAs, signInWithToken, signOut, t,
} from "/web/anxin.js";

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
  for (const id of ["policy", "chain", "audit", "alerts"]) $(id).hidden = false;
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
});

$("policy-load").addEventListener("click", guard(async () => {
  const data = await api.get("/api/v1/policy/version");
  $("policy-version").textContent = data.policy_version;
}));

$("chain-verify").addEventListener("click", guard(async () => {
  $("chain-result").replaceChildren();
  $("chain-progress").textContent = t("chain.running");
  try {
    const r = await api.get("/api/v1/audit/chain/verify");
    $("chain-progress").textContent = "";
    const facts = [
      ["chain.status", r.ok ? t("chain.ok") : t("chain.bad")],
      ["chain.records", r.records], ["chain.head", r.head_seq],
      ["chain.checkpoints", r.checkpoints_verified],
      ["chain.firstbad", r.first_bad_seq ?? "—"], ["chain.problem", r.problem ?? "—"],
    ];
    $("chain-result").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { i18n: k }), el("dd", { text: String(v) })]));
    $("chain-result").className = `facts ${r.ok ? "ok" : "bad"}`;
  } catch (error) {
    $("chain-progress").textContent = "";
    throw error;
  }
}));

function eventTable(records) {
  const head = el("tr", {}, ...["audit.seq", "audit.time", "audit.actor", "audit.what", "audit.customer", "audit.decision", "audit.reasons", "audit.decisionid"]
    .map((k) => el("th", { scope: "col", i18n: k })));
  const rows = records.map((r) => {
    const e = r.event;
    return el("tr", { "data-decision-id": e.decision_id || "" },
      el("td", { text: String(r.seq ?? "") }),
      el("td", { text: e.occurred_at }),
      el("td", { text: `${e.actor}${e.actor_subsidiary ? ` (${e.actor_subsidiary})` : ""}` }),
      el("td", { text: `${e.action} ${e.resource}` }),
      el("td", { text: e.customer_ref || "—" }),
      el("td", { class: e.allowed ? "ok" : "bad", i18n: e.allowed ? "audit.allowed" : "audit.denied" }),
      el("td", { text: (e.reasons || []).join("; ") }),
      el("td", { text: e.decision_id || "—" }));
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
});

init();
