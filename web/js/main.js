// The DocStore web app: a hash router over views, all talking to the public /v1 API.
import {
  api,
  forgetSession,
  logOut,
  mayRefresh,
  refreshSession,
  rememberAccount,
  setLoggedOutHandler,
  setUnauthorisedHandler,
  takeSessionEndReason,
  token,
} from "./api.js";
import { currentRoute, go, session, setRouter } from "./nav.js";
import { announce, clear, clearError, focusMain, h, showError } from "./ui.js";
import { renderPending } from "./uploads.js";
import { forgotView, loginView, resetView, signupView } from "./views/auth.js";
import { renderVerifyBanner, securityView, verifyEmailView } from "./views/security.js";
import { filesView, sharedView, trashView } from "./views/files.js";
import { searchView } from "./views/search.js";
import { settingsView } from "./views/account.js";
import { adminPage, usagePage } from "./views/analytics.js";
import { linksView } from "./views/links.js";
import { activityView } from "./views/activity.js";
import { webhooksView } from "./views/webhooks.js";

const VIEWS = {
  login: { render: loginView, title: "Log in", public: true },
  signup: { render: signupView, title: "Sign up", public: true },
  forgot: { render: forgotView, title: "Forgot password", public: true },
  // Pages a mailed link opens: logged in or not (`open`). Their token is read, then dropped from the address.
  "reset-password": { render: resetView, title: "Choose a new password", open: true },
  reset: { render: resetView, title: "Choose a new password", open: true },
  "verify-email": { render: verifyEmailView, title: "Verify your e-mail address", open: true },
  verify: { render: verifyEmailView, title: "Verify your e-mail address", open: true },
  security: { render: securityView, title: "Security", nav: "settings" },
  files: { render: filesView, title: "Files" },
  trash: { render: trashView, title: "Trash" },
  shared: { render: sharedView, title: "Shared with me" },
  search: { render: searchView, title: "Search" },
  usage: { render: usagePage, title: "Usage" },
  settings: { render: settingsView, title: "Settings" },
  links: { render: linksView, title: "Public links" },
  activity: { render: activityView, title: "Activity" },
  webhooks: { render: webhooksView, title: "Webhooks" },
  admin: { render: adminPage, title: "Admin" },
};

async function loadAccount() {
  session.account = await api("GET", "account");
  rememberAccount(session.account);
  // The account answer carries the role: no probe of an admin route (a 403 in the console) needed.
  session.isAdmin = session.account.role === "admin";
  sessionStorage.setItem("docstore.isAdmin", session.isAdmin ? "1" : "0");
}

async function signedIn() {
  await loadAccount();
  showChrome();
}

function showChrome() {
  const loggedIn = Boolean(token());
  document.getElementById("nav").hidden = !loggedIn;
  document.getElementById("who").hidden = !loggedIn;
  document.getElementById("header-search").hidden = !loggedIn;
  document.getElementById("nav-admin").hidden = !(loggedIn && session.isAdmin);
  const account = session.account;
  document.getElementById("who-name").textContent = loggedIn && account
    ? `${account.username} · ${account.plan === "premium" ? "Premium" : "Free"}`
    : "";
  if (!loggedIn) {
    document.getElementById("uploads").hidden = true;
  } else {
    renderPending();
  }
  renderVerifyBanner(loggedIn ? account : null);
}

let renderId = 0;
// The current view's listeners on shared elements (#main, window) go when the person leaves it:
// a view adds them with `{ signal: ctx.signal }`.
let leaving = null;

/** Close every open dialog: one belongs to the page (or session) it was opened on. */
export function closeDialogs() {
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
}

/** Toasts said about the page being left go with it (an Undo stays its while); a session's end takes all. */
function dropToasts({ all = false } = {}) {
  for (const toast of document.querySelectorAll("#status .toast")) {
    if (all || (!toast.querySelector("button") && toast.dataset.page !== location.hash)) toast.remove();
  }
}

async function route() {
  const { name, params } = currentRoute();
  const view = VIEWS[name] || VIEWS.files;
  if (!view.public && !view.open && !token()) {
    go("login", { next: location.hash.slice(1) });
    return;
  }
  if (view.public && token()) {
    go("files");
    return;
  }
  const id = ++renderId;
  leaving?.abort();
  leaving = new AbortController();
  const signal = leaving.signal;
  closeDialogs();
  dropToasts();
  clearError();
  document.title = `${view.title} · DocStore`;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === (view.nav || name)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  clear(main, h("p", { class: "loading" }, "Loading…"));
  try {
    await view.render(main, params, { isCurrent: () => id === renderId, signal });
  } catch (error) {
    if (id !== renderId) return;
    clear(main, h("h1", {}, view.title));
    showError(error.message || String(error));
  }
  // The heading takes the focus only while nothing in the page has it: a view draws its form
  // before its slower lists arrive, and keys the person already types there must stay there.
  if (id === renderId && moveFocus && !main.contains(document.activeElement)) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }
  moveFocus = true;
}

let moveFocus = false;

/**
 * What the login page says after the server refused this browser's session (`problems`: the
 * gateway's 401 bodies, the access token's and the refresh's). Every session of the account ended (a password change or reset, two-step
 * sign-in turned on, "log out of all devices") is answered `signed-out`, "You were signed out:
 * sign in again": said plainly, with the likely reasons.
 */
export function signedOutNotice(...problems) {
  const signedOut = problems.some((problem) => {
    const type = problem && typeof problem === "object" ? String(problem.type || "") : "";
    const detail = problem && typeof problem === "object" ? problem.detail : problem;
    return type.endsWith("signed-out") || (typeof detail === "string" && /signed out|sign in again|revoked/i.test(detail));
  });
  if (signedOut) {
    return "You were signed out on this device: the session was ended from your account (signed out elsewhere, a password change, or two-step sign-in turned on). Please log in again.";
  }
  return "Your session has ended. Please log in again.";
}

async function start() {
  setUnauthorisedHandler((error) => {
    forgetSession();
    session.account = null;
    session.isAdmin = false;
    // The login page says it (an alert shown here would be cleared by the route change).
    // The refused access token's answer may say "signed out" while the refresh says only "ended".
    // Several requests may be refused at once: the first one's notice and page are the ones kept.
    const reason = signedOutNotice(error?.body, takeSessionEndReason());
    showChrome();
    closeDialogs();
    dropToasts({ all: true });
    if (currentRoute().name === "login") return;
    session.notice = reason;
    // After logging in again the person is back where they were (the page's address, not a dialog).
    const here = location.hash.slice(1);
    go("login", here.startsWith("/") && !/^\/(signup|forgot)\b/.test(here) ? { next: here } : {});
  });
  // A logout here, or in another tab of this browser (api.js hears it), or of all devices.
  setLoggedOutHandler(() => {
    closeDialogs();
    dropToasts({ all: true });
    session.account = null;
    session.isAdmin = false;
    showChrome();
    if (currentRoute().name !== "login") go("login");
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await logOut();
    } catch {
      forgetSession();
    }
  });
  // "Skip to content" moves the focus into the page; its #main must not reach the hash router,
  // which would take it for a view and show the files instead of the page the person is on.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    focusMain();
  });
  // Files dropped anywhere but on the Files page (which handles its own drops) are not opened by
  // the browser in place of the app, nor uploaded: the page says where to drop them.
  const isFileDrag = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  window.addEventListener("dragover", (event) => { if (isFileDrag(event)) event.preventDefault(); });
  window.addEventListener("drop", (event) => {
    if (!isFileDrag(event) || event.defaultPrevented) return;
    event.preventDefault();
    if (token()) announce("To upload files, drop them on the Files page.");
  });
  // The header's search box: names and tags for everyone, the words inside for Premium (the Search page).
  document.getElementById("header-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = document.getElementById("header-q");
    const q = box.value.trim();
    if (!q) return;
    box.value = "";
    go("search", { q });
  });
  session.signedIn = signedIn;
  setRouter(route);
  // Two changes of the address before the first one's event (a page sent to the login page by a
  // refused request while the person, or a link, was going elsewhere) queue two events, and each
  // would draw the page now in the address: the second drawing would drop what the first said once
  // (the login page's "log in again"). Only the event of the address still current draws.
  window.addEventListener("hashchange", (event) => {
    if (event.newURL === location.href) route();
  });
  // A new tab or a browser restart: no access token in this tab, but the refresh cookie may
  // still hold the session. Ask once, silently, before deciding what to show.
  if (!token() && mayRefresh()) {
    try {
      if (!(await refreshSession())) {
        // Only when the server said the account's sessions were ended: an expired cookie says nothing.
        const reason = takeSessionEndReason();
        if (reason && String(reason.type || "").endsWith("signed-out")) session.notice = signedOutNotice(reason);
      }
    } catch {
      // Offline: the login page says so when the person tries.
    }
  }
  if (token()) {
    showChrome();
    try {
      await signedIn();
    } catch {
      // A 401 already sent the person to the login page.
    }
  } else {
    showChrome();
  }
  document.body.dataset.ready = "true";
  await route();
}

start();
