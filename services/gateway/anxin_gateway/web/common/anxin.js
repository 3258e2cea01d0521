// Shared by the desk and the console: the API client, sign-in, errors and languages.
// The bearer token lives in this module's memory only: never in web storage,
// cookies or the URL. Nothing here logs any value.

let token = null;
let lang = "zh";
const dictionaries = { zh: {}, en: {} };

export function addMessages(messages) {
  for (const [key, pair] of Object.entries(messages)) {
    dictionaries.zh[key] = pair[0];
    dictionaries.en[key] = pair[1];
  }
}

export function t(key, vars = {}) {
  const text = dictionaries[lang][key] ?? dictionaries.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

export function applyLanguage(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
}

export function setLanguage(next) {
  lang = next;
  applyLanguage();
}

export function language() {
  return lang;
}

export function signedIn() {
  return token !== null;
}

export function signOut() {
  token = null;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  get needsStepUp() {
    return this.status === 403 && /requires assurance level/.test(this.problem.detail || "");
  }
}

// `bearer` overrides the signed-in token for one request (the dev telephony simulator);
// a FormData body goes as multipart (the browser sets its boundary), anything else as JSON.
async function send(method, path, { body, callSession, auth = true, bearer } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) {
    const credential = bearer ?? token;
    if (credential === null) throw new ApiError(401, { title: t("err.signin") });
    headers.Authorization = `Bearer ${credential}`;
  }
  const multipart = body instanceof FormData;
  if (body !== undefined && !multipart) headers["Content-Type"] = "application/json";
  if (callSession) headers["X-Anxin-Call-Session"] = callSession;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined || multipart ? body : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, { title: t("err.network") });
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const api = {
  get: (path, options) => send("GET", path, options),
  post: (path, body, options = {}) => send("POST", path, { ...options, body }),
  put: (path, body, options = {}) => send("PUT", path, { ...options, body }),
};

// Dev sign-in: the gateway's dev issuer exists only in dev (404 elsewhere).
export async function devSubjects() {
  try {
    return await send("GET", "/dev/subjects", { auth: false });
  } catch {
    return null;
  }
}

async function devToken(subject) {
  const data = await send("POST", "/dev/token", { body: { subject }, auth: false });
  return data.access_token;
}

export async function signInAs(subject) {
  token = await devToken(subject);
}

// A dev client's token for one call, never kept (the dev telephony simulator acts as
// the telephony platform with it); the gateway's dev issuer exists only in dev.
export async function asDevClient(subject, call) {
  return call(await devToken(subject));
}

export function signInWithToken(pasted) {
  const value = pasted.trim().replace(/^Bearer\s+/i, "");
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value)) {
    throw new ApiError(400, { title: t("err.badtoken") });
  }
  token = value;
}

// Plain-language explanations an agent understands, by status.
const STATUS_TEXT = {
  0: "err.network", 400: "err.400", 401: "err.401", 403: "err.403", 404: "err.404",
  409: "err.409", 413: "err.400", 422: "err.422", 423: "err.423", 429: "err.429", 503: "err.503",
};

export function showError(region, error) {
  region.replaceChildren();
  if (!error) {
    region.hidden = true;
    return;
  }
  // A check on this page (not the API) failed: its message is already plain language.
  const problem = error instanceof ApiError ? error.problem : { title: error.message || t("err.unexpected") };
  const status = error instanceof ApiError ? error.status : -2;
  const heading = document.createElement("strong");
  heading.textContent = problem.title || t("err.unexpected");
  region.append(heading);
  if (status !== -2) {
    const explain = document.createElement("p");
    explain.textContent = t(STATUS_TEXT[status] || "err.unexpected");
    region.append(explain);
  }
  if (error instanceof ApiError && error.needsStepUp) {
    const hint = document.createElement("p");
    hint.className = "stepup-hint";
    hint.textContent = t("err.stepup");
    region.append(hint);
  }
  if (problem.detail && typeof problem.detail === "string") {
    const detail = document.createElement("p");
    detail.className = "detail";
    detail.textContent = problem.detail;
    region.append(detail);
  }
  if (problem.request_id) {
    const rid = document.createElement("p");
    rid.className = "request-id";
    rid.textContent = t("err.requestid", { id: problem.request_id });
    region.append(rid);
  }
  region.hidden = false;
  region.focus();
}

// Accessible tabs: `[role=tablist]` buttons with aria-controls; arrow keys move between them.
export function setupTabs(list, onSelect = () => {}) {
  const tabs = Array.from(list.querySelectorAll("[role=tab]"));
  const select = (chosen, focus = false) => {
    for (const tab of tabs) {
      const on = tab === chosen;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) chosen.focus();
    onSelect(chosen);
  };
  for (const [index, tab] of tabs.entries()) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) select(tabs[(index + step + tabs.length) % tabs.length], true);
    });
  }
  select(tabs.find((tab) => tab.getAttribute("aria-selected") === "true") || tabs[0]);
  return (id) => select(tabs.find((tab) => tab.getAttribute("aria-controls") === id));
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "i18n") { node.dataset.i18n = value; node.textContent = t(value); }
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

addMessages({
  "err.signin": ["请先登录。", "Please sign in first."],
  "err.badtoken": ["这不是有效的令牌格式。", "That is not a valid token."],
  "err.network": ["无法连接网关，请检查网络后重试。", "The gateway cannot be reached. Check the network and try again."],
  "err.400": ["请求格式有误，请检查输入。", "The request was not valid; please check what you typed."],
  "err.401": ["登录已失效，请重新登录。", "Your sign-in is no longer valid; please sign in again."],
  "err.403": ["您没有执行此操作的权限。", "You are not allowed to do this."],
  "err.404": ["找不到该记录或功能。", "That record or function does not exist."],
  "err.409": ["记录已被他人修改，请刷新后重试。", "Someone else changed it; refresh and try again."],
  "err.422": ["输入内容不符合要求，请检查后重试。", "Some input is not acceptable; please check it."],
  "err.423": ["该验证方式已被暂时锁定，请改用其他方式。", "This check is locked for now; use another one."],
  "err.429": ["操作过于频繁，请稍候再试。", "Too many requests; wait a moment and try again."],
  "err.503": ["系统暂时不可用，请稍后重试；如持续出现请联系技术支持。", "The system is unavailable; try again later, or call support if it persists."],
  "err.unexpected": ["发生了意外错误。", "Something unexpected went wrong."],
  "err.stepup": ["需要更高的验证级别：请先在“身份核验”中完成知识问答或短信验证码。", "A higher verification level is needed: complete the knowledge questions or the one-time code under “Verify the caller” first."],
  "err.requestid": ["请求编号：{id}（联系技术支持时请提供）", "Request id: {id} (quote it when you call support)"],
});
