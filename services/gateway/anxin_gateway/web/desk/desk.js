// The agent desktop. Every datum comes from the public /api/v1/ API; values are
// only ever written into the page as text (never HTML), never logged, never stored.
import {
  addMessages, api, applyLanguage, devSubjects, el, language, setLanguage, showError,
  signInAs, signInWithToken, signOut, t,
} from "/web/anxin.js";

// The dev telephony simulator stands in for the switch: it hands the desktop the
// ANI and attestation of a seeded demo caller (synthetic data) without showing them.
const DEV_CALLERS = [
  { ani: "15234719120", attestation: "A" }, // C000002, a customer of the life insurer
  { ani: "13660072917", attestation: "A" }, // C000001, a customer of the P&C insurer
];

const $ = (id) => document.getElementById(id);
const errorRegion = $("error");
let devMode = false;
let call = null; // the current call session, as identity returned it
let notices = [];
let whoami = "";

const PROFILE_FIELDS = [
  "customer_id", "subsidiary", "name", "gender", "birth_date", "id_type", "id_number", "mobile",
  "email", "address", "bank_account", "policy_number", "value_tier", "lifecycle_stage",
];

function guard(action) {
  return async (event) => {
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    showError(errorRegion, null);
    try {
      await action();
    } catch (error) {
      showError(errorRegion, error);
      if (error.needsStepUp) $("customer-stepup").hidden = false;
    } finally {
      if (button) button.disabled = false;
    }
  };
}

function show(...ids) {
  for (const id of ids) $(id).hidden = false;
}

// ---- sign-in -------------------------------------------------------------------
async function init() {
  applyLanguage();
  const subjects = await devSubjects();
  if (Array.isArray(subjects)) {
    devMode = true;
    const users = subjects.filter((s) => s.kind === "user");
    for (const s of users) {
      $("subject").append(el("option", { value: s.subject, text: `${s.subject} · ${s.roles.join("/")} · ${s.subsidiary}` }));
    }
    $("dev-signin").hidden = false;
  }
}

function afterSignIn(subject) {
  $("token").value = "";
  whoami = subject;
  $("who").textContent = t("signedin", { who: subject });
  $("signin").hidden = true;
  $("signout").hidden = false;
  show("incoming");
  $("simulator").hidden = !devMode;
  $("code-hint").hidden = !devMode;
  $("mark-recording").hidden = !devMode;
}

$("signin-dev").addEventListener("click", guard(async () => {
  const subject = $("subject").value;
  await signInAs(subject);
  afterSignIn(subject);
}));

$("signin-token").addEventListener("click", guard(async () => {
  signInWithToken($("token").value);
  afterSignIn(t("signin.tokenuser"));
}));

$("signout").addEventListener("click", () => {
  signOut();
  location.reload();
});

$("lang").addEventListener("click", () => {
  setLanguage(language() === "zh" ? "en" : "zh");
  $("lang").textContent = language() === "zh" ? "English" : "中文";
  $("lang").lang = language() === "zh" ? "en" : "zh-CN";
  if (whoami) $("who").textContent = t("signedin", { who: whoami });
  if (call) renderSession(call);
});

// ---- the call ------------------------------------------------------------------
async function startCall(ani, attestation) {
  call = await api.post("/api/v1/calls", { ani, channel: "voice", attestation: attestation || null });
  renderSession(call);
  show("session", "stepup", "customer", "consent");
  $("profile").replaceChildren();
  $("household").replaceChildren();
  $("questions").replaceChildren();
  $("customer-stepup").hidden = true;
  $("unmask").hidden = true;
  hideUnmasked();
  $("stepup-status").textContent = "";
  $("consent-status").textContent = "";
}

$("answer").addEventListener("click", guard(async () => {
  const ani = $("ani").value.trim();
  $("ani").value = ""; // the number is not kept on the page; the session shows it masked
  await startCall(ani, $("attestation").value);
}));

$("simulate").addEventListener("click", guard(async () => {
  const caller = DEV_CALLERS[Number($("sim-caller").value)];
  await startCall(caller.ani, caller.attestation);
}));

function renderSession(session) {
  $("s-ani").textContent = session.ani_masked;
  $("s-level").textContent = session.assurance_level;
  $("s-level").className = `level ${session.assurance_level}`;
  $("s-customer").textContent = session.customer_id || t("session.nocustomer");
  $("s-candidates").textContent = String(session.candidate_count ?? 0);
  $("s-risk").textContent = String(session.risk_score ?? 0);
  $("s-risk").className = session.risk_score >= 50 ? "risk-high" : "";
  const reasons = (session.risk_reasons || []).map((r) => el("li", { text: `${r.reason_zh}（+${r.weight}）` }));
  $("s-reasons").replaceChildren(...(reasons.length ? reasons : [el("li", { text: t("session.noreasons") })]));
  $("close-call").disabled = session.status !== "open";
  $("link-customer").hidden = Boolean(session.customer_id) || session.status !== "open";
}

$("link-go").addEventListener("click", guard(async () => {
  const customer = $("link-id").value.trim();
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(customer)) throw new Error(t("session.badid"));
  call = await api.put(`/api/v1/calls/${call.id}/customer`, { customer_id: customer });
  $("link-id").value = "";
  renderSession(call);
}));

$("close-call").addEventListener("click", guard(async () => {
  call = await api.post(`/api/v1/calls/${call.id}/close`, {});
  renderSession(call);
}));

// ---- step-up -------------------------------------------------------------------
$("load-questions").addEventListener("click", guard(async () => {
  const data = await api.get(`/api/v1/calls/${call.id}/knowledge-questions`);
  const items = data.questions.map((q, index) => {
    const inputId = `q-${index}`;
    const result = el("span", { class: "status", "aria-live": "polite" });
    const input = el("input", { id: inputId, autocomplete: "off", "data-question": q.question_id });
    const check = el("button", { type: "button", i18n: "stepup.check" });
    check.addEventListener("click", guard(async () => {
      const answer = input.value;
      input.value = ""; // the answer is not kept on the page
      const outcome = await api.post(`/api/v1/calls/${call.id}/knowledge-answers`, {
        question_id: q.question_id, answer,
      });
      call = outcome.session;
      renderSession(call);
      result.dataset.i18n = outcome.correct ? "stepup.correct" : "stepup.wrong";
      result.textContent = t(result.dataset.i18n);
      result.className = outcome.correct ? "ok" : "bad";
      if (outcome.correct) input.disabled = check.disabled = true;
      levelChanged();
    }));
    return el("div", { class: "question" },
      el("label", { for: inputId, text: q.prompt_zh }),
      el("div", { class: "row" }, input, check), result);
  });
  $("questions").replaceChildren(...items);
}));

$("send-code").addEventListener("click", guard(async () => {
  const sent = await api.post(`/api/v1/calls/${call.id}/codes`, {});
  call = sent.session;
  renderSession(call);
  $("stepup-status").textContent = t("stepup.sent");
}));

$("verify-code").addEventListener("click", guard(async () => {
  const code = $("code").value.trim();
  $("code").value = "";
  const outcome = await api.post(`/api/v1/calls/${call.id}/codes/verify`, { code });
  call = outcome.session;
  renderSession(call);
  $("stepup-status").textContent = outcome.correct ? t("stepup.correct") : t("stepup.wrong");
  levelChanged();
}));

function levelChanged() {
  const level = call.assurance_level;
  $("stepup-status").textContent = t("stepup.level", { level });
  if (level === "L2" || level === "L3") $("customer-stepup").hidden = true;
}

$("goto-stepup").addEventListener("click", () => {
  $("stepup").scrollIntoView();
  $("load-questions").focus();
});

// ---- the customer, masked exactly as the API returns it ------------------------
function customerId() {
  if (!call?.customer_id) throw new Error(t("customer.none"));
  return call.customer_id;
}

$("load-customer").addEventListener("click", guard(async () => {
  const data = await api.get(`/api/v1/customers/${customerId()}`, { callSession: call.id });
  const rows = [];
  for (const field of PROFILE_FIELDS) {
    const view = data.field_views?.[field];
    const value = data[field];
    const missing = value === null || value === undefined;
    const dd = el("dd", { "data-field": field });
    if (missing) dd.append(el("span", { i18n: view === "hidden" ? "customer.hidden" : "customer.empty" }));
    else dd.append(String(value));
    if (view) dd.append(el("span", { class: "view", i18n: `view.${view}` }));
    rows.push(el("dt", { i18n: `field.${field}` }), dd);
  }
  $("profile").replaceChildren(...rows);
  const masked = PROFILE_FIELDS.filter((f) => data.field_views?.[f] === "masked");
  $("unmask-fields").replaceChildren(
    el("legend", { i18n: "unmask.fields" }),
    ...masked.map((f) => el("label", {}, el("input", { type: "checkbox", name: "unmask", value: f }),
      el("span", { i18n: `field.${f}` }))));
  $("unmask").hidden = masked.length === 0;
  const hidden = Object.values(data.field_views || {}).some((v) => v === "hidden");
  $("customer-stepup").hidden = !(hidden && call.assurance_level < "L2");
}));

$("load-household").addEventListener("click", guard(async () => {
  const data = await api.get(`/api/v1/customers/${customerId()}/household`, { callSession: call.id });
  const list = el("ul", {}, ...data.members.map((m) => el("li", {
    text: m.withheld
      ? `${m.relation} · ${t("customer.withheld")}`
      : [m.relation, m.name, m.customer_id, m.birth_date, m.subsidiary].filter(Boolean).join(" · "),
  })));
  $("household").replaceChildren(el("h3", { i18n: "customer.household" }), list);
}));

// ---- unmask with a reason: plain values shown until the grant expires, then dropped
let unmaskTimer = null;

function hideUnmasked() {
  if (unmaskTimer !== null) clearInterval(unmaskTimer);
  unmaskTimer = null;
  $("unmasked-values").replaceChildren();
  $("countdown").textContent = "";
  $("unmasked").hidden = true;
}

$("unmask-go").addEventListener("click", guard(async () => {
  const fields = Array.from(document.querySelectorAll("input[name=unmask]:checked"), (n) => n.value);
  if (fields.length === 0) throw new Error(t("unmask.pick"));
  const reason = $("unmask-reason").value.trim();
  if (reason.length < 10) throw new Error(t("unmask.short"));
  const result = await api.post(`/api/v1/customers/${customerId()}/unmask`, { fields, reason },
    { callSession: call.id });
  hideUnmasked();
  $("unmask-reason").value = "";
  const rows = [];
  for (const [field, value] of Object.entries(result.values)) {
    rows.push(el("dt", { i18n: `field.${field}` }), el("dd", { "data-plain": field, text: value ?? "—" }));
  }
  $("unmasked-values").replaceChildren(...rows);
  $("unmasked").hidden = false;
  const expires = Date.parse(result.expires_at);
  const tick = () => {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    if (left === 0) hideUnmasked();
    else $("countdown").textContent = t("unmask.left", { s: left });
  };
  tick();
  unmaskTimer = setInterval(tick, 1000);
}));

$("unmask-hide").addEventListener("click", hideUnmasked);

// ---- consent capture -----------------------------------------------------------
$("load-notices").addEventListener("click", guard(async () => {
  const page = await api.get("/api/v1/consent/notices?limit=100");
  notices = page.items;
  $("notice").replaceChildren(...notices.map((n, i) =>
    el("option", { value: String(i), text: `${n.notice_key} v${n.version} · ${n.purpose}` })));
  renderNotice();
}));

function renderNotice() {
  const notice = notices[Number($("notice").value)];
  if (!notice) return;
  $("notice-text").textContent = notice.text_zh;
  $("category").replaceChildren(...notice.categories.map((c) => el("option", { value: c, text: c })));
  $("recipient").replaceChildren(...notice.recipients.map((r) => el("option", { value: r, text: r })));
}
$("notice").addEventListener("change", renderNotice);

$("mark-recording").addEventListener("click", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  $("recording-hash").value = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
});

function consentScope() {
  const notice = notices[Number($("notice").value)];
  if (!notice) throw new Error(t("consent.pick"));
  const hash = $("recording-hash").value.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hash)) throw new Error(t("consent.needhash"));
  return { notice, hash };
}

$("record-consent").addEventListener("click", guard(async () => {
  const { notice, hash } = consentScope();
  const result = await api.post("/api/v1/consent/records", {
    customer_id: customerId(), notice_key: notice.notice_key, notice_version: notice.version,
    category: $("category").value, recipient: $("recipient").value,
    channel: "call", recording_hash: hash,
  }, { callSession: call.id });
  $("consent-status").textContent = t("consent.recorded", {
    id: result.record.record_id, ref: result.record.recording_ref || "-",
  });
  $("consent-status").className = "status ok";
}));

$("withdraw-consent").addEventListener("click", guard(async () => {
  const { notice, hash } = consentScope();
  const result = await api.post("/api/v1/consent/withdrawals", {
    customer_id: customerId(), purpose: notice.purpose_code,
    category: $("category").value, recipient: $("recipient").value,
    channel: "call", recording_hash: hash,
  }, { callSession: call.id });
  $("consent-status").textContent = t("consent.withdrawn", {
    id: result.record.record_id, ref: result.record.recording_ref || "-",
  });
  $("consent-status").className = "status ok";
}));

addMessages({
  "desk.title": ["安信坐席工作台", "Anxin agent desktop"],
  "signout": ["退出", "Sign out"],
  "signedin": ["当前用户：{who}", "Signed in as {who}"],
  "signin.title": ["登录", "Sign in"],
  "signin.subject": ["选择演示账号（仅开发环境）", "Choose a demo subject (dev only)"],
  "signin.go": ["登录", "Sign in"],
  "signin.token": ["或粘贴身份提供方签发的访问令牌", "Or paste a bearer token from the identity provider"],
  "signin.usetoken": ["使用令牌登录", "Sign in with token"],
  "signin.memory": ["令牌只保存在本页内存中，关闭或刷新页面即失效。", "The token is kept in this page's memory only; closing or reloading the page discards it."],
  "signin.tokenuser": ["令牌用户", "token user"],
  "call.title": ["来电", "Incoming call"],
  "call.ani": ["主叫号码", "Caller number (ANI)"],
  "call.attestation": ["号码认证（STIR/SHAKEN）", "Attestation (STIR/SHAKEN)"],
  "call.noattest": ["无", "none"],
  "call.answer": ["接听", "Answer"],
  "call.simhint": ["开发环境电话模拟器：模拟演示客户从其登记手机来电（号码不在页面显示）。", "Dev telephony simulator: a demo customer calls from her registered mobile (the number is not shown)."],
  "call.simulate": ["模拟来电", "Simulate a call"],
  "call.simcaller": ["演示来电客户", "Demo caller"],
  "call.sim0": ["寿险客户 C000002", "life customer C000002"],
  "call.sim1": ["财险客户 C000001", "P&C customer C000001"],
  "session.title": ["通话会话", "Call session"],
  "session.ani": ["主叫", "Caller"],
  "session.level": ["验证级别", "Assurance level"],
  "session.customer": ["客户", "Customer"],
  "session.candidates": ["候选客户数", "Candidate customers"],
  "session.risk": ["风险评分", "Risk score"],
  "session.nocustomer": ["未识别", "not identified"],
  "session.noreasons": ["无风险信号", "no risk signals"],
  "session.linkhint": ["主叫号码对应多个客户或未登记：请询问客户的客户号并关联。", "The number matches several customers or none: ask the caller for their customer id and link it."],
  "session.linkid": ["客户提供的客户号", "Customer id the caller gives"],
  "session.link": ["关联客户", "Link customer"],
  "session.badid": ["客户号格式不正确。", "That customer id is not valid."],
  "session.close": ["结束通话", "End call"],
  "stepup.title": ["身份核验", "Verify the caller"],
  "stepup.knowledge": ["知识问答", "Knowledge questions"],
  "stepup.khint": ["向客户读出问题并输入客户的回答；系统只告诉您对错，不显示预留答案。", "Read each question to the caller and type the answer; you only learn right or wrong, never the stored answer."],
  "stepup.load": ["获取问题", "Get questions"],
  "stepup.check": ["核对", "Check"],
  "stepup.correct": ["回答正确", "Correct"],
  "stepup.wrong": ["回答不正确", "Not correct"],
  "stepup.otp": ["短信验证码", "One-time code"],
  "stepup.send": ["发送验证码到登记手机", "Send a code to the registered mobile"],
  "stepup.sent": ["验证码已发送，请客户读出。", "Code sent; ask the caller to read it back."],
  "stepup.devhint": ["开发环境：短信不会真正发出，验证码在 var/sms-sink.jsonl 中。", "Dev: no SMS is really sent; the code is in var/sms-sink.jsonl."],
  "stepup.code": ["客户读出的验证码", "Code the caller reads back"],
  "stepup.verify": ["核对", "Check"],
  "stepup.level": ["当前验证级别：{level}", "Assurance level now: {level}"],
  "customer.title": ["客户资料", "Customer"],
  "customer.hint": ["按策略显示：掩码字段与系统返回完全一致。", "Shown as policy allows: masked exactly as the system returns it."],
  "customer.load": ["查看客户资料", "Show customer"],
  "customer.household": ["家庭成员", "Household"],
  "customer.needstep": ["此信息需要更高的验证级别（L2）。", "This needs a higher assurance level (L2)."],
  "customer.gostep": ["去核验身份", "Verify the caller"],
  "customer.withheld": ["（其他公司的客户，不予显示）", "(another subsidiary's customer: withheld)"],
  "customer.empty": ["（无）", "(none)"],
  "customer.hidden": ["（不可见）", "(hidden)"],
  "customer.none": ["本通话尚未关联客户。", "No customer is linked to this call."],
  "view.plain": ["明文", "plain"],
  "view.masked": ["掩码", "masked"],
  "view.hidden": ["隐藏", "hidden"],
  "field.customer_id": ["客户号", "Customer id"],
  "field.subsidiary": ["所属公司", "Subsidiary"],
  "field.name": ["姓名", "Name"],
  "field.gender": ["性别", "Gender"],
  "field.birth_date": ["出生日期", "Birth date"],
  "field.id_type": ["证件类型", "ID type"],
  "field.id_number": ["证件号码", "ID number"],
  "field.mobile": ["手机号码", "Mobile"],
  "field.email": ["电子邮箱", "Email"],
  "field.address": ["地址", "Address"],
  "field.bank_account": ["银行卡号", "Bank card"],
  "field.policy_number": ["保单号", "Policy number"],
  "field.value_tier": ["客户等级", "Value tier"],
  "field.lifecycle_stage": ["生命周期", "Lifecycle stage"],
  "unmask.title": ["查看明文（需说明理由，全程审计）", "Show plain values (reason required, always audited)"],
  "unmask.fields": ["要查看的字段", "Fields to show"],
  "unmask.reason": ["理由（至少 10 个字）", "Reason (at least 10 characters)"],
  "unmask.go": ["显示明文", "Show plain"],
  "unmask.shown": ["明文（限时显示）", "Plain values (time-bound)"],
  "unmask.hide": ["立即隐藏", "Hide now"],
  "unmask.left": ["{s} 秒后自动隐藏", "Hidden automatically in {s} s"],
  "unmask.pick": ["请选择要查看的字段。", "Choose the fields to show."],
  "unmask.short": ["请填写至少 10 个字的理由。", "Give a reason of at least 10 characters."],
  "consent.title": ["同意采集", "Consent capture"],
  "consent.load": ["载入告知书", "Load notices"],
  "consent.notice": ["告知书", "Notice"],
  "consent.read": ["请向客户完整朗读以下告知内容：", "Read this notice to the customer in full:"],
  "consent.category": ["信息类别", "Category"],
  "consent.recipient": ["接收方", "Recipient"],
  "consent.hash": ["客户表示同意的录音片段哈希（SHA-256，由电话系统提供）", "Hash of the recording segment with the customer's answer (SHA-256, from the telephony)"],
  "consent.mark": ["模拟录音标记（开发）", "Simulate recording mark (dev)"],
  "consent.record": ["记录口头同意", "Record verbal consent"],
  "consent.withdraw": ["记录撤回同意", "Record withdrawal"],
  "consent.pick": ["请先选择告知书。", "Pick a notice first."],
  "consent.needhash": ["请填写录音片段哈希（64 位十六进制）。", "Enter the recording segment's hash (64 hex digits)."],
  "consent.recorded": ["已记录同意：{id}；录音：{ref}", "Consent recorded: {id}; recording: {ref}"],
  "consent.withdrawn": ["已记录撤回：{id}；录音：{ref}", "Withdrawal recorded: {id}; recording: {ref}"],
});

init();
