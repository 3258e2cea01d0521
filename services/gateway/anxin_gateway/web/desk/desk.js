// The agent desktop. Every datum comes from the public /api/v1/ API; values are
// only ever written into the page as text (never HTML), never logged, never stored.
import {
  addMessages, api, applyLanguage, asDevClient, devSubjects, el, language, setLanguage,
  setupTabs, showError, signInAs, signInWithToken, signOut, t,
} from "/web/anxin.js";
import { Recorder, toWav } from "./voice.js";

// The dev telephony simulator stands in for the switch: it hands the desktop the
// ANI and attestation of a seeded demo caller (synthetic data) without showing them.
const DEV_CALLERS = [
  { ani: "15234719120", attestation: "A" }, // C000002, a customer of the life insurer
  { ani: "13660072917", attestation: "A" }, // C000001, a customer of the P&C insurer
];
// In dev the simulator also plays the telephony platform for outbound calls.
const DEV_TELEPHONY = "telephony-platform";
const LEVELS = ["L0", "L1", "L2", "L3"];
// Fields the unmask API accepts, in the order the desk offers them.
const UNMASKABLE = [
  "name", "birth_date", "id_number", "mobile", "email", "address", "bank_account", "policy_number",
];
const IDENTITY_FIELDS = ["name", "gender", "birth_date", "id_type", "id_number"];
const CHANNELS = ["mobile", "email", "address", "device", "app_account"];
// The gateway takes at most 1 MiB per request; enrollment clips travel together.
const MAX_UPLOAD_BYTES = 1000 * 1024;
const MAX_FILE_BYTES = 20 * 1024 * 1024;

const $ = (id) => document.getElementById(id);
const errorRegion = $("error");
let devMode = false;
let call = null; // the current call session, as identity returned it
let notices = [];
let whoami = "";
let clips = []; // voice clips (WAV blobs): biometric data, dropped once sent
let reminderAsked = null; // the call session the security reminder was asked for
const recorder = new Recorder();

function guard(action) {
  return async (event) => {
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    showError(errorRegion, null);
    try {
      await action(event);
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

function atLeast(level, wanted) {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(wanted);
}

const selectStepUpTab = setupTabs($("stepup-tabs"));
const selectCustomerTab = setupTabs($("customer-tabs"));

// ---- sign-in -------------------------------------------------------------------
async function init() {
  applyLanguage();
  $("ob-name").value = t("ob.defaultname");
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
  show("incoming", "outbound");
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
  dropClips();
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
async function startCall(ani, attestation, extra = {}) {
  const opened = await api.post("/api/v1/calls", {
    ani, channel: "voice", attestation: attestation || null, ...extra,
  });
  call = opened;
  resetCallViews();
  renderSession(call);
  show("session", "stepup", "customer", "consent");
}

function resetCallViews() {
  for (const id of ["profile", "household", "holdings", "contacts", "questions", "voice-result"]) {
    $(id).replaceChildren();
  }
  dropClips();
  $("customer-stepup").hidden = true;
  $("unmask").hidden = true;
  hideUnmasked();
  $("reminder").hidden = true;
  $("reminder-text").textContent = "";
  reminderAsked = null;
  for (const id of ["stepup-status", "consent-status", "voice-recording"]) $(id).textContent = "";
  $("recording-hash").value = ""; // a recording mark belongs to one call
  selectStepUpTab("panel-knowledge");
  selectCustomerTab("panel-profile");
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
  $("s-direction").textContent = t(`direction.${session.direction}`);
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
  dropClips();
  renderSession(call);
}));

// ---- outbound: masked numbers; the telephony platform dials by reference -----------
$("ob-load").addEventListener("click", guard(async () => {
  const body = { name: $("ob-name").value.trim() || t("ob.defaultname"), limit: 10 };
  if ($("ob-tier").value) body.value_tier = $("ob-tier").value;
  const list = await api.post("/api/v1/outbound/call-lists", body);
  renderCallList(list);
}));

function renderCallList(list) {
  if (list.entries.length === 0) {
    $("ob-list").replaceChildren(el("p", { class: "empty", i18n: "ob.empty" }));
    return;
  }
  const head = el("tr", {}, ...["ob.customer", "ob.cname", "ob.number", "ob.action"].map(
    (key) => el("th", { i18n: key, scope: "col" })));
  const rows = list.entries.map((entry) => {
    // The dial reference stays in this closure: it is a single-use capability, not page text.
    const action = el("td");
    const button = el("button", { type: "button", class: "secondary", i18n: "ob.dial" });
    button.addEventListener("click", guard(async () => {
      await dial(entry);
      action.replaceChildren(el("span", { class: "ok", i18n: "ob.dialed" }));
    }));
    action.append(button);
    return el("tr", { "data-customer": entry.customer_id },
      el("td", { text: entry.customer_id }), el("td", { text: entry.name ?? "—" }),
      el("td", { "data-field": "mobile", text: entry.mobile ?? "—" }), action);
  });
  $("ob-list").replaceChildren(
    el("p", { class: "hint", text: `${list.name} · ${list.entries.length}` }),
    el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}

// The telephony platform resolves the reference (once) and dials; the number it reports
// back goes straight into the outbound call session, which answers with it masked.
async function dial(entry) {
  if (!devMode) throw new Error(t("ob.nodialer"));
  const resolved = await asDevClient(DEV_TELEPHONY, (bearer) =>
    api.post(`/api/v1/dial-references/${entry.dial_ref}/resolve`, undefined, { bearer }));
  await startCall(resolved.number, "A", { direction: "outbound", customer_id: entry.customer_id });
}

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
  levelChanged();
  if (!outcome.correct) $("stepup-status").textContent = t("stepup.wrong");
}));

function levelChanged() {
  const level = call.assurance_level;
  $("stepup-status").textContent = t("stepup.level", { level });
  if (atLeast(level, "L2")) $("customer-stepup").hidden = true;
  askSecurityReminder();
}

$("goto-stepup").addEventListener("click", () => {
  $("stepup").scrollIntoView();
  selectStepUpTab("panel-knowledge");
  $("load-questions").focus();
});

// ---- the security reminder (issue 11): once the caller is verified to L2 ------------
// Best effort: no reminder, or any failure to get one, leaves the box hidden and the
// agent undisturbed.
async function askSecurityReminder() {
  if (!call?.customer_id || !atLeast(call.assurance_level, "L2") || reminderAsked === call.id) return;
  const asked = call;
  reminderAsked = asked.id;
  let reminder = null;
  try {
    reminder = await api.get(`/api/v1/customers/${asked.customer_id}/security-reminder`,
      { callSession: asked.id });
  } catch {
    reminder = null;
  }
  if (call?.id !== asked.id) return; // another call by now
  const text = typeof reminder?.text === "string" ? reminder.text.trim() : "";
  $("reminder-text").textContent = text;
  $("reminder").hidden = text === "";
}

// ---- voiceprint: record or upload, always sent as 16 kHz mono WAV ----------------
function dropClips() {
  recorder.stop({ discard: true });
  clips = [];
  renderClips();
}

function renderClips() {
  const items = clips.map((clip, index) => {
    const remove = el("button", { type: "button", class: "secondary", i18n: "voice.remove" });
    remove.addEventListener("click", () => {
      clips.splice(index, 1);
      renderClips();
    });
    return el("li", {},
      el("span", { text: t("voice.clip", { n: index + 1, seconds: clip.seconds.toFixed(1) }) }),
      el("span", { class: "badge", i18n: `voice.from.${clip.source}` }), remove);
  });
  $("voice-clips").replaceChildren(...items);
  $("voice-verify").disabled = clips.length === 0;
  $("voice-enroll").disabled = clips.length < 2;
  $("voice-clear").disabled = clips.length === 0;
}

async function addClip(audio, source) {
  let wav;
  try {
    wav = await toWav(await audio.arrayBuffer());
  } catch {
    throw new Error(t("voice.undecodable"));
  }
  clips.push({ ...wav, source });
  renderClips();
}

function recordingStopped(blob) {
  $("voice-record").disabled = false;
  $("voice-stop").disabled = true;
  $("voice-recording").textContent = "";
  if (blob !== null) addClip(blob, "mic").catch((error) => showError(errorRegion, error));
}

$("voice-record").addEventListener("click", () => guard(async () => {
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
    throw new Error(t("voice.nomic"));
  }
  try {
    await recorder.start(recordingStopped);
  } catch {
    throw new Error(t("voice.nomic"));
  }
  $("voice-record").disabled = true;
  $("voice-stop").disabled = false;
  $("voice-recording").textContent = t("voice.recording");
})());

$("voice-stop").addEventListener("click", () => recorder.stop());

$("voice-file").addEventListener("change", guard(async (event) => {
  const files = Array.from(event.target.files || []);
  event.target.value = ""; // the page keeps only the converted clip
  for (const file of files) {
    if (file.size > MAX_FILE_BYTES) throw new Error(t("voice.toolarge"));
    await addClip(file, "file");
  }
}));

$("voice-clear").addEventListener("click", dropClips);

$("voice-verify").addEventListener("click", guard(async () => {
  if (clips.length === 0) throw new Error(t("voice.needclip"));
  const form = new FormData();
  form.append("audio", clips[clips.length - 1].blob, "caller.wav");
  const outcome = await api.post(`/api/v1/calls/${call.id}/voiceprint/verification`, form,
    { callSession: call.id });
  dropClips();
  renderVoiceResult(outcome);
  call = await api.get(`/api/v1/calls/${call.id}`); // the level and the risk it moved
  renderSession(call);
  levelChanged();
}));

$("voice-enroll").addEventListener("click", guard(async () => {
  if (clips.length < 2) throw new Error(t("voice.needtwo"));
  if (clips.reduce((sum, clip) => sum + clip.blob.size, 0) > MAX_UPLOAD_BYTES) {
    throw new Error(t("voice.toolong"));
  }
  const form = new FormData();
  clips.forEach((clip, index) => form.append("utterances", clip.blob, `utterance-${index + 1}.wav`));
  const enrolled = await api.post(`/api/v1/calls/${call.id}/voiceprint/enrollment`, form,
    { callSession: call.id });
  dropClips();
  $("voice-result").replaceChildren(
    el("dt", { i18n: "voice.outcome" }),
    el("dd", { class: "ok", "data-result": "enrolled", text: t("voice.enrolled", { n: enrolled.utterances }) }));
}));

function renderVoiceResult(outcome) {
  const good = outcome.result === "match" && !outcome.watchlist_hit;
  const score = outcome.score === null ? "—"
    : t("voice.scoreof", { score: outcome.score.toFixed(3), threshold: outcome.threshold.toFixed(2) });
  const rows = [
    el("dt", { i18n: "voice.outcome" }),
    el("dd", { class: good ? "ok" : "bad", "data-result": outcome.result, i18n: `voice.result.${outcome.result}` }),
    el("dt", { i18n: "voice.score" }), el("dd", { text: score }),
    el("dt", { i18n: "voice.speech" }), el("dd", { text: t("voice.seconds", { s: outcome.speech_seconds }) }),
    el("dt", { i18n: "voice.watchlist" }),
    el("dd", {}, outcome.watchlist_hit
      ? el("span", { class: "warn-box", "data-watchlist": "hit", i18n: "voice.hit" })
      : el("span", { i18n: "voice.nohit" })),
  ];
  $("voice-result").replaceChildren(...rows);
}

// ---- the customer, masked exactly as the API returns it ------------------------
function customerId() {
  if (!call?.customer_id) throw new Error(t("customer.none"));
  return call.customer_id;
}

function valueCell(field, value, view) {
  const dd = el("dd", { "data-field": field });
  if (value === null || value === undefined) {
    dd.append(el("span", { class: "empty", i18n: view === "hidden" ? "customer.hidden" : "customer.empty" }));
  } else {
    dd.append(String(value));
  }
  if (view) dd.append(el("span", { class: "view", i18n: `view.${view}` }));
  return dd;
}

$("load-customer").addEventListener("click", guard(async () => {
  const data = await api.get(`/api/v1/customers/${customerId()}/portrait`, { callSession: call.id });
  const views = data.field_views || {};
  renderProfile(data, views);
  renderHousehold(data.household);
  renderHoldings(data, views);
  renderContacts(data, views);
  const masked = UNMASKABLE.filter((f) => views[`customer.${f}`] === "masked");
  $("unmask-fields").replaceChildren(
    el("legend", { i18n: "unmask.fields" }),
    ...masked.map((f) => el("label", {}, el("input", { type: "checkbox", name: "unmask", value: f }),
      el("span", { i18n: `field.${f}` }))));
  $("unmask").hidden = masked.length === 0;
  const hidden = Object.values(views).some((v) => v === "hidden");
  $("customer-stepup").hidden = !(hidden && !atLeast(call.assurance_level, "L2"));
  selectCustomerTab("panel-profile");
}));

function renderProfile(data, views) {
  const rows = [
    el("dt", { i18n: "field.customer_id" }), valueCell("customer_id", data.customer_id),
    el("dt", { i18n: "field.subsidiary" }), valueCell("subsidiary", data.subsidiary, views["customer.subsidiary"]),
  ];
  for (const field of IDENTITY_FIELDS) {
    rows.push(el("dt", { i18n: `field.${field}` }), valueCell(field, data.identity?.[field], views[`customer.${field}`]));
  }
  const segments = data.segments || {};
  for (const field of ["value_tier", "lifecycle_stage"]) {
    rows.push(el("dt", { i18n: `field.${field}` }), valueCell(field, segments[field], views[`customer.${field}`]));
  }
  const tags = Array.isArray(segments.tags) ? segments.tags.join("、") : null;
  rows.push(el("dt", { i18n: "field.tags" }), valueCell("tags", tags, views["customer.tags"]));
  const prefs = data.contact_preferences;
  const prefText = prefs ? Object.entries(prefs).map(([k, v]) => `${t(`pref.${k}`)}: ${prefValue(v)}`).join("；") : null;
  rows.push(el("dt", { i18n: "field.contact_preferences" }),
    valueCell("contact_preferences", prefText, views["customer.contact_preferences"]));
  $("profile").replaceChildren(...rows);
}

function prefValue(value) {
  if (value === true) return t("yes");
  if (value === false) return t("no");
  return String(value);
}

function renderHousehold(household) {
  if (!household) {
    $("household").replaceChildren(el("p", { class: "stepup-prompt", i18n: "customer.householdstep" }));
    return;
  }
  const members = household.members.map((m) => el("li", {},
    el("span", { i18n: `relation.${m.relation}` }),
    el("span", {
      text: m.withheld
        ? ` · ${t("customer.withheld")}`
        : ` · ${[m.name, m.customer_id, m.birth_date, m.subsidiary].filter(Boolean).join(" · ")}`,
    })));
  $("household").replaceChildren(
    el("p", { class: "hint", text: t("customer.role", { role: t(`relation.${household.role || "household_member"}`) }) }),
    members.length ? el("ul", {}, ...members) : el("p", { class: "empty", i18n: "customer.nohousehold" }));
}

$("load-household").addEventListener("click", guard(async () => {
  const data = await api.get(`/api/v1/customers/${customerId()}/household`, { callSession: call.id });
  renderHousehold(data);
}));

function renderHoldings(data, views) {
  const rows = [
    ...(data.insurance_policies || []).map((h) => ["policy_number", "holding.policy", h]),
    ...(data.bank_accounts || []).map((h) => ["bank_account", "holding.account", h]),
  ].map(([field, kind, h]) => el("tr", {},
    el("td", { i18n: kind }),
    el("td", { "data-field": field }, h.number ?? "—", el("span", { class: "view", i18n: `view.${views[`customer.${field}`]}` })),
    el("td", {}, h.product ?? "—", el("span", { class: "view", i18n: `view.${views["customer.product"]}` })),
    el("td", { text: h.subsidiary }),
    el("td", { text: h.status })));
  const parts = [];
  if (rows.length) {
    const head = el("tr", {}, ...["holding.kind", "holding.number", "holding.product", "field.subsidiary", "holding.status"]
      .map((key) => el("th", { scope: "col", i18n: key })));
    parts.push(el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  } else {
    parts.push(el("p", { class: "empty", i18n: "customer.noholdings" }));
  }
  for (const field of ["policy_number", "bank_account"]) {
    if (views[`customer.${field}`] === "hidden") {
      parts.push(el("p", { class: "stepup-prompt", "data-hidden": field, i18n: `customer.hidden.${field}` }));
    }
  }
  $("holdings").replaceChildren(...parts);
}

function renderContacts(data, views) {
  const points = data.contact_points || {};
  const rows = [];
  for (const channel of CHANNELS) {
    for (const point of points[channel] || []) {
      rows.push(el("tr", {},
        el("td", { i18n: `channel.${channel}` }),
        el("td", { "data-field": channel }, point.value ?? "—", el("span", { class: "view", i18n: `view.${views[`customer.${channel}`]}` })),
        el("td", { i18n: `source.${point.source_channel}` }),
        el("td", {}, point.registered ? el("span", { class: "badge", i18n: "contact.registered" }) : ""),
        el("td", { text: String(point.first_seen).slice(0, 10) })));
    }
  }
  const parts = [];
  if (rows.length) {
    const head = el("tr", {}, ...["contact.channel", "contact.value", "contact.source", "contact.status", "contact.since"]
      .map((key) => el("th", { scope: "col", i18n: key })));
    parts.push(el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  } else {
    parts.push(el("p", { class: "empty", i18n: "customer.nocontacts" }));
  }
  const hidden = CHANNELS.filter((c) => views[`customer.${c}`] === "hidden");
  if (hidden.length) parts.push(el("p", { class: "stepup-prompt", "data-hidden": hidden.join(" "), i18n: "customer.hiddencontacts" }));
  $("contacts").replaceChildren(...parts);
}

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
  "yes": ["是", "yes"],
  "no": ["否", "no"],
  "pref.preferred_channel": ["首选渠道", "Preferred channel"],
  "pref.quiet_hours": ["免打扰时段", "Quiet hours"],
  "pref.marketing_opt_in": ["接受营销", "Marketing opt-in"],
  "relation.spouse": ["配偶", "spouse"],
  "relation.child": ["子女", "child"],
  "relation.parent": ["父母", "parent"],
  "relation.parent_in_law": ["配偶父母", "parent-in-law"],
  "relation.sibling": ["兄弟姐妹", "sibling"],
  "relation.grandparent": ["祖父母", "grandparent"],
  "relation.child_in_law": ["子女配偶", "child-in-law"],
  "relation.grandchild": ["孙辈", "grandchild"],
  "relation.head": ["户主", "head of household"],
  "relation.household_member": ["家庭成员", "household member"],
  "holding.kind": ["类型", "Kind"],
  "holding.number": ["号码", "Number"],
  "holding.product": ["产品", "Product"],
  "holding.status": ["状态", "Status"],
  "holding.policy": ["保单", "policy"],
  "holding.account": ["银行卡", "bank card"],
  "channel.mobile": ["手机", "mobile"],
  "channel.email": ["邮箱", "email"],
  "channel.address": ["地址", "address"],
  "channel.device": ["设备", "device"],
  "channel.app_account": ["App 账号", "app account"],
  "contact.channel": ["渠道", "Channel"],
  "contact.value": ["联系方式", "Contact"],
  "contact.source": ["来源", "Source"],
  "contact.status": ["状态", "Status"],
  "contact.since": ["首次记录", "First seen"],
  "contact.registered": ["登记号码", "registered"],
  "source.registration": ["开户登记", "registration"],
  "source.branch": ["柜面", "branch"],
  "source.online": ["线上", "online"],
  "source.app": ["App", "app"],
  "source.call": ["来电", "call"],
  "source.import": ["数据导入", "import"],
  "reminder.title": ["安全提示（请向客户朗读）", "Security reminder (read it to the customer)"],
  "ob.title": ["外呼", "Outbound"],
  "ob.name": ["活动名称", "Campaign"],
  "ob.defaultname": ["客户回访", "Customer follow-up"],
  "ob.tier": ["客户等级", "Value tier"],
  "ob.any": ["全部", "any"],
  "tier.standard": ["普通", "standard"],
  "tier.gold": ["金卡", "gold"],
  "tier.platinum": ["白金", "platinum"],
  "ob.load": ["生成呼叫名单", "Build call list"],
  "ob.hint": ["号码按策略掩码显示；拨打时由电话平台凭一次性拨号参考拨出，页面不显示明文号码。", "Numbers are masked by policy; the telephony platform dials by a single-use dial reference and the page never shows the number."],
  "ob.empty": ["没有符合条件的客户。", "No customers match."],
  "ob.customer": ["客户号", "Customer"],
  "ob.cname": ["姓名", "Name"],
  "ob.number": ["号码", "Number"],
  "ob.action": ["操作", "Action"],
  "ob.dial": ["拨打", "Dial"],
  "ob.dialed": ["已拨出", "Dialled"],
  "ob.nodialer": ["未接入电话平台：拨号参考只能由电话平台使用，请在电话系统中拨出。", "No telephony platform is connected: only the telephony platform can use a dial reference."],
  "voice.title": ["声纹", "Voiceprint"],
  "voice.hint": ["声纹需要客户单独的生物识别同意（在“同意采集”中记录告知书 biometric-voiceprint）。核验：录下客户说的一段话（2–8 秒）。登记：先完成 L2 核验，再录 2–5 段。", "Voiceprints need the customer's separate biometric consent (record notice biometric-voiceprint under Consent capture). To verify, record the caller saying a sentence (2–8 s). To enroll, verify to L2 first, then record 2–5 clips."],
  "voice.record": ["开始录音", "Record"],
  "voice.stop": ["停止录音", "Stop"],
  "voice.recording": ["正在录音……（最长 8 秒）", "Recording… (at most 8 s)"],
  "voice.upload": ["或上传录音文件（WAV）", "Or upload a recording (WAV)"],
  "voice.clips": ["录音片段", "Voice clips"],
  "voice.clip": ["片段 {n} · {seconds} 秒", "Clip {n} · {seconds} s"],
  "voice.from.mic": ["录音", "recorded"],
  "voice.from.file": ["上传", "uploaded"],
  "voice.remove": ["移除", "Remove"],
  "voice.verify": ["核验声纹（最新一段）", "Verify voice (latest clip)"],
  "voice.enroll": ["登记声纹（全部片段）", "Enroll voiceprint (all clips)"],
  "voice.clear": ["清除片段", "Clear clips"],
  "voice.outcome": ["结果", "Result"],
  "voice.result.match": ["声纹匹配", "Voice matches"],
  "voice.result.mismatch": ["声纹不匹配", "Voice does not match"],
  "voice.result.insufficient_audio": ["有效语音不足，请让客户多说几句后重录", "Too little speech: ask the caller to say more and record again"],
  "voice.score": ["相似度", "Similarity"],
  "voice.scoreof": ["{score}（阈值 {threshold}）", "{score} (threshold {threshold})"],
  "voice.speech": ["有效语音", "Speech"],
  "voice.seconds": ["{s} 秒", "{s} s"],
  "voice.watchlist": ["欺诈声纹名单", "Fraud watchlist"],
  "voice.hit": ["命中！请勿办理业务并按流程上报", "HIT: do not proceed; escalate as trained"],
  "voice.nohit": ["未命中", "no match"],
  "voice.enrolled": ["已登记声纹（{n} 段录音）", "Voiceprint enrolled ({n} clips)"],
  "voice.nomic": ["无法使用麦克风：请允许浏览器使用麦克风，或改为上传录音文件。", "The microphone cannot be used: allow it in the browser, or upload a recording instead."],
  "voice.undecodable": ["无法读取该录音，请使用 WAV 文件或重新录音。", "That recording cannot be read; use a WAV file or record again."],
  "voice.toolarge": ["录音文件过大。", "The recording file is too large."],
  "voice.toolong": ["录音总时长过长，请移除部分片段后再登记。", "The clips are too long together; remove some before enrolling."],
  "voice.needclip": ["请先录音或上传一段录音。", "Record or upload a clip first."],
  "voice.needtwo": ["登记需要至少 2 段录音。", "Enrollment needs at least 2 clips."],
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
  "call.attestation": ["号码认证", "Attestation"],
  "call.noattest": ["无", "none"],
  "call.answer": ["接听", "Answer"],
  "call.simhint": ["开发环境电话模拟器：模拟演示客户从其登记手机来电（号码不在页面显示）。", "Dev telephony simulator: a demo customer calls from her registered mobile (the number is not shown)."],
  "call.simulate": ["模拟来电", "Simulate a call"],
  "call.simcaller": ["演示来电客户", "Demo caller"],
  "call.sim0": ["寿险客户 C000002", "life customer C000002"],
  "call.sim1": ["财险客户 C000001", "P&C customer C000001"],
  "session.title": ["通话会话", "Call session"],
  "session.ani": ["号码", "Number"],
  "session.direction": ["方向", "Direction"],
  "direction.inbound": ["呼入", "inbound"],
  "direction.outbound": ["外呼", "outbound"],
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
  "customer.profile": ["基本资料", "Profile"],
  "customer.holdings": ["保单与账户", "Policies & accounts"],
  "customer.contacts": ["联系方式", "Contact points"],
  "customer.loadhousehold": ["刷新家庭成员", "Reload household"],
  "customer.householdstep": ["家庭成员在您当前的权限和验证级别下不可见（坐席需 L2）。核验后点“刷新家庭成员”；系统会说明原因。", "The household is not visible at your role and assurance level (agents need L2). Verify the caller, then reload: the system says why."],
  "customer.role": ["本客户在家庭中的角色：{role}", "This customer's role in the household: {role}"],
  "customer.nohousehold": ["未登记家庭成员。", "No household members on record."],
  "customer.noholdings": ["无可显示的保单或账户。", "No policies or accounts to show."],
  "customer.nocontacts": ["无可显示的联系方式。", "No contact points to show."],
  "customer.hidden.policy_number": ["保单信息在您当前的权限和验证级别下不可见。", "Policies are not visible at your role and assurance level."],
  "customer.hidden.bank_account": ["银行卡信息在您当前的权限和验证级别下不可见。", "Bank cards are not visible at your role and assurance level."],
  "customer.hiddencontacts": ["部分联系方式在您当前的权限和验证级别下不可见。", "Some contact points are not visible at your role and assurance level."],
  "customer.needstep": ["部分信息需要更高的验证级别（L2）才能查看。", "Some of this needs a higher assurance level (L2)."],
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
  "field.tags": ["标签", "Tags"],
  "field.contact_preferences": ["联系偏好", "Contact preferences"],
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
