// The public DocStore API (/v1), and nothing else: no file bytes ever go through it.
//
// Sessions: a login answers a short-lived access token (minutes), kept in this tab's
// sessionStorage, and sets a refresh token as an HttpOnly cookie on /v1/sessions that no script
// can read. A tab without an access token (a new tab, a browser restart) or whose token was
// refused gets a new one from POST /v1/sessions/refresh, which spends the cookie for a new one.
// localStorage holds only what is not a secret: the home region's origin and a hint that a
// session exists (so a logged-out visitor's page does not ask, and log a 401, for nothing).

const TOKEN_KEY = "docstore.token";
const BASE_KEY = "docstore.apiBase";
const ACCOUNT_KEY = "docstore.account";
const HINT_KEY = "docstore.session";
const CHANNEL = "docstore.session";

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
  return localStorage.getItem(BASE_KEY) || "";
}

/**
 * The address of a public share link: `{gateway origin}/s/{token}` at the gateway this page talks
 * to (the home region's after a login redirect), which serves the link's public page.
 */
export function publicLinkUrl(linkToken) {
  return new URL(`/s/${encodeURIComponent(linkToken)}`, apiBase() || location.origin).href;
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

/** Forget this browser's session here and in every tab's storage (the cookie is the server's to clear). */
export function forgetSession() {
  for (const key of [TOKEN_KEY, ACCOUNT_KEY]) sessionStorage.removeItem(key);
  for (const key of [BASE_KEY, HINT_KEY]) localStorage.removeItem(key);
}

/** True while this tab holds a session: an access token, or a refresh cookie it may spend for one. */
function signedInHere() {
  return Boolean(token()) || mayRefresh();
}

/** True when this browser may hold a refresh cookie (a login happened and no logout since). */
export function mayRefresh() {
  return localStorage.getItem(HINT_KEY) === "1";
}

/**
 * A sign-in that ends in a redirect (OpenID Connect: the gateway sets the refresh cookie on its
 * callback): when the page loads again, it may spend that cookie for an access token.
 */
export function expectRefreshCookie() {
  localStorage.setItem(HINT_KEY, "1");
}

// Tabs tell each other about a logout, so every tab of this browser goes to the login page at once.
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
let onLoggedOut = () => {};
/** Called when this browser's session ends by a logout, in this tab or another. */
export function setLoggedOutHandler(handler) {
  onLoggedOut = handler;
}
if (channel) {
  channel.onmessage = (event) => {
    if (event.data && event.data.type === "logged-out") {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(ACCOUNT_KEY);
      onLoggedOut();
    }
  };
}

function keepSession(body, base) {
  sessionStorage.setItem(TOKEN_KEY, body.token);
  localStorage.setItem(HINT_KEY, "1");
  if (base) localStorage.setItem(BASE_KEY, base);
  else localStorage.removeItem(BASE_KEY);
}

let endedBecause = null;
/**
 * Why the last refresh was refused: the gateway's problem (`type` ending `signed-out`, detail
 * "You were signed out: sign in again", when every session of the account was ended; `session-ended`
 * for an expired, spent or revoked refresh token), once; null when none was.
 */
export function takeSessionEndReason() {
  const reason = endedBecause;
  endedBecause = null;
  return reason;
}

let refreshing = null;
/**
 * A new access token for this tab from the refresh cookie; resolves true, or false when the
 * session has ended (then nothing of it is kept). Each refresh token works once, so tabs take
 * turns (a Web Lock): two tabs spending the same cookie at once would look like a theft.
 */
export function refreshSession() {
  if (!refreshing) {
    const run = async () => {
      const base = apiBase();
      let response;
      try {
        response = await fetch(new URL(`${base}/v1/sessions/refresh`, location.href), {
          method: "POST",
          headers: { Accept: "application/json" },
          credentials: "include",
        });
      } catch {
        throw new ApiError(0, "Cannot reach DocStore. Check your connection and try again.", null);
      }
      const body = await readBody(response);
      if (!response.ok) {
        if (response.status === 401) {
          forgetSession();
          endedBecause = body && typeof body === "object" ? body : {};
        }
        return false;
      }
      keepSession(body, base);
      return true;
    };
    const locked = navigator.locks ? navigator.locks.request("docstore.refresh", run) : run();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
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
/** Called (with the ApiError) when a request with a token is answered 401 and no refresh helps (the session expired or was revoked). */
export function setUnauthorisedHandler(handler) {
  onUnauthorised = handler;
}

/**
 * Call `/v1/<path>`. `query` drops empty values; `json` becomes the body; `signal` (an
 * AbortSignal) ends a long-poll when the page that asked is left; `priority` is fetch's ("low"
 * for a request held open in the background).
 * Resolves with the parsed body (null for 204); rejects with ApiError.
 */
export async function api(method, path, options = {}) {
  try {
    return await send(method, path, options);
  } catch (error) {
    // An access token lives minutes: a 401 is first answered by refreshing it, then asking again.
    if (!(error instanceof ApiError && error.status === 401 && error.withToken)) throw error;
    // The session it was sent with already ended here (a logout while it was on its way, or another
    // request found it ended): the login page is showing, and drawing it again would wipe what the
    // person is typing into it.
    if (!signedInHere()) throw sessionEnded(error);
    // Another request of this tab may have refreshed meanwhile: then its token is the one to use.
    const renewed = token() && token() !== error.sentToken;
    if (!renewed && !(await refreshSession())) {
      onUnauthorised(error);
      throw sessionEnded(error);
    }
    try {
      return await send(method, path, options);
    } catch (again) {
      if (again instanceof ApiError && again.status === 401 && again.withToken && signedInHere()) {
        onUnauthorised(again);
        throw sessionEnded(again);
      }
      throw again;
    }
  }
}

/** A refused session's error in people's words (the gateway's detail names API routes). */
function sessionEnded(error) {
  error.message = "Your session has ended. Please log in again.";
  return error;
}

async function send(method, path, { query, json, auth = true, base = apiBase(), signal, priority } = {}) {
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
    response = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), signal, priority });
  } catch (error) {
    throw new ApiError(0, "Cannot reach DocStore. Check your connection and try again.", null);
  }
  const body = await readBody(response);
  if (response.ok) return body;
  const error = new ApiError(response.status, describeError(response.status, body), body);
  error.withToken = Boolean(auth && bearer);
  error.sentToken = bearer;
  throw error;
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
        credentials: "include", // the home region's gateway sets the refresh cookie
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
    if (response.redirected) base = new URL(response.url).origin;
    if (base === location.origin) base = "";
    // Two-step sign-in: the password was right, but no session yet. The ticket (minutes, single
    // use) goes back with a code to the same region's gateway; nothing of it is stored.
    if (response.status === 401 && body && typeof body === "object" && body.mfa_required && body.mfa_ticket) {
      return { mfa_required: true, mfa_ticket: body.mfa_ticket, base, detail: body.detail };
    }
    if (!response.ok) throw new ApiError(response.status, describeError(response.status, body), body);
    keepSession(body, base);
    return body;
  }
  throw new ApiError(508, "Logging in was redirected too many times; try again later.", null);
}

/**
 * The second login step: `step` is `logIn`'s answer when it said `mfa_required`, `code` a
 * 6-digit code from the authenticator app or a recovery code. Resolves with the session (kept
 * like a login's); rejects with ApiError (401 for a wrong, reused or expired code or ticket).
 */
export async function logInSecondStep(step, code) {
  let response;
  try {
    response = await fetch(new URL(`${step.base}/v1/sessions/mfa`, location.href), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ mfa_ticket: step.mfa_ticket, code }),
      credentials: "include", // the gateway sets the refresh cookie
    });
  } catch {
    throw new ApiError(0, "Cannot reach DocStore. Check your connection and try again.", null);
  }
  const body = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, describeError(response.status, body), body);
  keepSession(body, step.base);
  return body;
}

async function endSession(method, path) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  try {
    // With an expired access token, the refresh cookie alone names the session to end.
    await fetch(new URL(`${apiBase()}/v1/${path}`, location.href), { method, headers, credentials: "include" });
  } finally {
    loggedOut();
  }
}

/** This browser's session has ended on the server (a password change ends every session): forget it in every tab. */
export function loggedOut() {
  forgetSession();
  if (channel) channel.postMessage({ type: "logged-out" });
  onLoggedOut();
}

/** Log out: this browser's session ends (every tab of it), on the server and here. */
export async function logOut() {
  await endSession("DELETE", "sessions/current");
}

/** Log out of all devices: every session of the account ends, other browsers' tabs included. */
export async function logOutEverywhere() {
  // Through api(): an expired access token is refreshed first. Nothing is forgotten unless it worked.
  await api("DELETE", "sessions");
  loggedOut();
}
