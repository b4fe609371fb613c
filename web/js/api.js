// The public DocStore API (/v1), and nothing else: no file bytes ever go through it.
// The session token lives in sessionStorage (one tab, gone when the tab closes).

const TOKEN_KEY = "docstore.token";
const BASE_KEY = "docstore.apiBase";
const ACCOUNT_KEY = "docstore.account";

/** An API answer that was not a success, with a message a person can read. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/** The origin API calls go to: this page's own, or the home region's after a login redirect. */
export function apiBase() {
  return sessionStorage.getItem(BASE_KEY) || "";
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storedAccount() {
  try {
    return JSON.parse(sessionStorage.getItem(ACCOUNT_KEY) || "null");
  } catch {
    return null;
  }
}

export function rememberAccount(account) {
  sessionStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
}

export function forgetSession() {
  for (const key of [TOKEN_KEY, BASE_KEY, ACCOUNT_KEY]) sessionStorage.removeItem(key);
}

/** A readable message out of FastAPI's error shapes: a string, a list of problems, or an object. */
export function describeError(status, body) {
  const detail = body && typeof body === "object" ? body.detail ?? body.message ?? body.error : body;
  if (typeof detail === "string" && detail.trim()) return capitalise(detail);
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((item) => {
        const where = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body" && p !== "query").join(".") : "";
        return where ? `${where}: ${item.msg}` : item.msg;
      })
      .join("; ");
  }
  if (detail && typeof detail === "object" && typeof detail.message === "string") return capitalise(detail.message);
  const generic = {
    400: "The request was not understood.",
    401: "Please log in again.",
    403: "You are not allowed to do that.",
    404: "Not found: it may have been deleted.",
    409: "That conflicts with a change made elsewhere; reload and try again.",
    413: "That is too large.",
    422: "Some of what you entered is not valid.",
    429: "Too many requests; wait a moment and try again.",
    503: "The service is unavailable right now; try again in a moment.",
  };
  return generic[status] || `Something went wrong (HTTP ${status}).`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

let onUnauthorised = () => {};
/** Called when a request with a token is answered 401 (the session expired or was revoked). */
export function setUnauthorisedHandler(handler) {
  onUnauthorised = handler;
}

/**
 * Call `/v1/<path>`. `query` drops empty values; `json` becomes the body.
 * Resolves with the parsed body (null for 204); rejects with ApiError.
 */
export async function api(method, path, { query, json, auth = true, base = apiBase() } = {}) {
  const url = new URL(`${base}/v1/${path.replace(/^\//, "")}`, location.href);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(one));
  }
  const headers = { Accept: "application/json" };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const bearer = token();
  if (auth && bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (error) {
    throw new ApiError(0, "Cannot reach DocStore. Check your connection and try again.", null);
  }
  const body = await readBody(response);
  if (response.ok) return body;
  if (response.status === 401 && auth && bearer) onUnauthorised();
  throw new ApiError(response.status, describeError(response.status, body), body);
}

/**
 * Every item of a list route (each answers `{items, next_cursor, next}`), following `next_cursor`
 * for at most `maxPages` pages of `limit` items: the few short lists the app shows whole.
 */
export async function apiAll(path, { query = {}, limit = 200, maxPages = 10 } = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const body = await api("GET", path, { query: { ...query, limit, cursor } });
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** Where a region redirect points: the Location header, or a target named in the body. */
export function redirectTarget(response, body) {
  const fromBody =
    body && typeof body === "object"
      ? body.location || body.url || body.redirect_to || body.gateway_url || body.home_gateway ||
        (body.detail && typeof body.detail === "object" ? body.detail.location || body.detail.gateway_url : null)
      : null;
  const target = response.headers.get("location") || fromBody;
  return target ? new URL(target, response.url || location.href) : null;
}

/**
 * Log in. An account lives in one home region; a login that reaches another region is answered
 * 307 to the home region's gateway (with a machine-readable body naming it). fetch follows a 307
 * itself, repeating the POST with its body, so the answer then comes from the home region
 * (`response.redirected`); should a redirect reach us unfollowed (a 307/308 status, or a body
 * naming the target), we retry there once ourselves. Later API calls go to that region.
 */
export async function logIn(username, password) {
  const payload = JSON.stringify({ username, password });
  let base = apiBase();
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let response;
    try {
      response = await fetch(new URL(`${base}/v1/sessions`, location.href), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: payload,
        redirect: "follow",
      });
    } catch {
      throw new ApiError(0, "Cannot reach DocStore (or your home region). Check your connection and try again.", null);
    }
    const body = await readBody(response);
    const target = [307, 308].includes(response.status) ? redirectTarget(response, body) : null;
    if (target) {
      base = target.origin;
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, describeError(response.status, body), body);
    if (response.redirected) base = new URL(response.url).origin;
    if (base === location.origin) base = "";
    sessionStorage.setItem(TOKEN_KEY, body.token);
    if (base) sessionStorage.setItem(BASE_KEY, base);
    else sessionStorage.removeItem(BASE_KEY);
    return body;
  }
  throw new ApiError(508, "Logging in was redirected too many times; try again later.", null);
}

export async function logOut() {
  try {
    if (token()) await api("DELETE", "sessions/current");
  } finally {
    forgetSession();
  }
}
