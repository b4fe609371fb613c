// Account security (issue 20): the e-mail verification banner and page, change password and
// e-mail, two-step sign-in (TOTP enrolment, recovery codes, turning it off) and the devices
// (sessions) signed in to the account, and app passwords for tools (issue 36).
import { api, ApiError, loggedOut, token } from "../api.js";
import { session } from "../nav.js";
import { PASSWORD_HINT, takeTokenFromUrl } from "./auth.js";
import { announce, busy, clear, confirmDialog, field, h, showError, timeElement } from "../ui.js";

// ---- the banner until the address is verified

let bannerFor = null; // the account id whose state the banner shows (asked once per login)

/** The account's address, its verification and two-step state (`GET /v1/account/security`). */
export function securityState() {
  return api("GET", "account/security");
}

/**
 * Show (or hide) the banner that asks to verify the e-mail address, with "Resend". `account` is
 * the logged-in account (null: logged out). Asked once per account and login; the verify page
 * and a resend update it.
 */
export async function renderVerifyBanner(account, { refresh = false } = {}) {
  const banner = document.getElementById("verify-banner");
  if (!banner) return;
  if (!account || !token()) {
    bannerFor = null;
    banner.hidden = true;
    banner.replaceChildren();
    return;
  }
  if (bannerFor === account.account_id && !refresh) return;
  bannerFor = account.account_id;
  let state;
  try {
    state = typeof account.email_verified === "boolean" && !refresh ? account : await securityState();
  } catch {
    banner.hidden = true; // not known: say nothing rather than something wrong
    return;
  }
  if (state.email_verified !== false) {
    banner.hidden = true;
    banner.replaceChildren();
    return;
  }
  const resend = h("button", { type: "button", class: "small", id: "verify-resend" }, "Resend");
  const said = h("span", { class: "banner-status", role: "status" });
  resend.addEventListener("click", () => busy(resend, async () => {
    const answer = await api("POST", "account/email/verification");
    said.textContent = answer?.detail || "We sent a new link.";
    if (answer && answer.sent === false) banner.hidden = true;
  }));
  clear(banner,
    h("p", {},
      h("strong", {}, "Please verify your e-mail address"), ` (${state.email}). `,
      // On a phone the banner keeps to its first sentence, so the file list stays in view.
      h("span", { class: "banner-more" },
        "Follow the link we mailed you. Until then you cannot share documents or create public links, and we send you no other mail. ")),
    h("div", { class: "actions" }, resend, said));
  banner.hidden = false;
}

// ---- the page a verification (or e-mail change) mail links to

export async function verifyEmailView(main, params) {
  const linkToken = takeTokenFromUrl(params, "verify-email");
  const title = h("h1", { id: "verify-title", tabindex: "-1" }, "Verify your e-mail address");
  const card = h("section", { class: "card auth", "aria-labelledby": "verify-title" }, title);
  clear(main, h("div", { class: "auth-wrap" }, card));
  if (!linkToken) {
    card.append(h("p", {}, "This page needs the link from the mail we sent you."));
    return;
  }
  card.append(h("p", { class: "loading" }, "Checking the link…"));
  let answer;
  try {
    answer = await api("POST", "account/email/verify", { auth: false, json: { token: linkToken } });
  } catch (error) {
    clear(card, title,
      h("p", { role: "alert", class: "error-text" }, error.message),
      h("p", {}, token()
        ? ["Ask for a new link with “Resend” in the banner, or ", h("a", { href: "#/security" }, "on the Security page"), "."]
        : ["Log in and ask for a new link with “Resend”. ", h("a", { href: "#/login" }, "Log in")]));
    return;
  }
  clear(card, title,
    h("p", { role: "status", id: "email-verify-result" }, `Thank you: ${answer?.email || "your address"} is verified.`),
    h("div", { class: "actions" }, token()
      ? h("a", { href: "#/files", class: "button primary" }, "Go to your files")
      : h("a", { href: "#/login", class: "button primary" }, "Log in")));
  if (token() && session.account) {
    if (answer?.email) session.account = { ...session.account, email: answer.email };
    renderVerifyBanner(session.account, { refresh: true });
  }
}

// ---- the Security page

export async function securityView(main, _params, { isCurrent } = {}) {
  const state = await securityState();
  if (isCurrent && !isCurrent()) return;
  const devices = h("div", { id: "devices" }, h("p", { class: "loading" }, "Loading…"));
  const appPasswords = h("div", { id: "app-passwords" }, h("p", { class: "loading" }, "Loading…"));
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Security"), h("a", { href: "#/settings" }, "Back to Settings")),
    emailCard(state),
    passwordCard(),
    twoFactorCard(state),
    h("section", { class: "card", "aria-labelledby": "devices-title" },
      h("h2", { id: "devices-title" }, "Devices"),
      h("p", { class: "muted" }, "Browsers and apps logged in to your account. Sign out any you do not recognise, then change your password."),
      devices),
    appPasswordsCard(appPasswords));
  await Promise.all([renderDevices(devices), renderAppPasswords(appPasswords)]);
}

function emailCard(state) {
  const email = h("input", { name: "new_email", type: "email", autocomplete: "email", required: true, maxlength: "254" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Change e-mail");
  const result = h("p", { role: "status", id: "email-result" });
  const form = h("form", { class: "stack", "aria-labelledby": "email-change-title" },
    h("h3", { id: "email-change-title" }, "Change e-mail address"),
    field("New e-mail address", email),
    field("Your password", password),
    h("div", { class: "actions" }, submit),
    result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      const answer = await api("PUT", "account/email", { json: { new_email: email.value.trim(), password: password.value } });
      password.value = "";
      result.textContent = answer?.detail ||
        `We sent a confirmation link to ${email.value.trim()}. The change applies once you follow it; your current address gets a notice.`;
    });
  });
  return h("section", { class: "card", "aria-labelledby": "email-title" },
    h("h2", { id: "email-title" }, "E-mail address"),
    h("dl", { class: "facts" },
      h("dt", {}, "Address"), h("dd", { id: "email-current" }, state.email, " ",
        h("span", { class: `pill ${state.email_verified ? "ok" : "warn"}` }, state.email_verified ? "Verified" : "Not verified")),
      state.pending_email ? [h("dt", {}, "Waiting for confirmation"), h("dd", {}, state.pending_email)] : null),
    form);
}

function passwordCard() {
  const current = h("input", { name: "current_password", type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const submit = h("button", { type: "submit" }, "Change password");
  const form = h("form", { class: "stack", "aria-labelledby": "password-title" },
    field("Current password", current),
    field("New password", next, PASSWORD_HINT),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      try {
        await api("PUT", "account/password", { json: { current_password: current.value, new_password: next.value } });
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) next.focus();
        else if (error instanceof ApiError && error.status === 403) current.select();
        throw error;
      }
      // A new password ends every session of the account, this one too.
      session.notice = "Your password is changed, and every device was signed out. Log in with the new password.";
      loggedOut();
    });
  });
  return h("section", { class: "card", "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, "Password"),
    h("p", { class: "muted" }, "Changing it signs out every device, this one too."),
    form);
}

// ---- two-step sign-in

function twoFactorCard(state) {
  const body = h("div", { id: "mfa-body" });
  const card = h("section", { class: "card", "aria-labelledby": "mfa-section-title" },
    h("h2", { id: "mfa-section-title" }, "Two-step sign-in"),
    body);
  if (state.mfa_enabled) mfaOn(body, state);
  else mfaOff(body);
  return card;
}

function mfaOff(body) {
  const start = h("button", { type: "button", class: "primary", id: "mfa-start" }, "Set up two-step sign-in");
  start.addEventListener("click", () => busy(start, async () => {
    const enrolment = await api("POST", "account/mfa/enrol");
    enrolStep(body, enrolment);
  }));
  clear(body,
    h("p", { id: "mfa-state" }, "Off. With it on, logging in also asks for a code from an app on your phone (such as Google Authenticator, Aegis or 1Password), so a stolen password alone is not enough."),
    h("div", { class: "actions" }, start));
}

/** The secret in groups of four, as authenticator apps show it, for typing in by hand. */
function groupSecret(secret) {
  return String(secret).replace(/\s+/g, "").replace(/(.{4})(?=.)/g, "$1 ");
}

/**
 * The API's QR code (a standalone SVG) as an image's data: URL: never parsed into the page, so no
 * script in it can run.
 */
export function qrImageUrl(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(String(svg || "").trim())}`;
}

function enrolStep(body, enrolment) {
  const qr = h("img", {
    class: "qr", id: "mfa-qr", width: "200", height: "200",
    src: qrImageUrl(enrolment.qr_svg),
    alt: "QR code to scan with your authenticator app",
  });
  const secret = h("code", { id: "mfa-secret", class: "secret" }, groupSecret(enrolment.secret));
  const code = h("input", {
    name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: "7",
    pattern: "[0-9 ]{6,7}", autocapitalize: "none", spellcheck: "false",
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Turn on");
  const cancel = h("button", { type: "button" }, "Cancel");
  cancel.addEventListener("click", () => {
    mfaOff(body);
    body.querySelector("#mfa-start")?.focus();
  });
  const heading = h("h3", { id: "mfa-enrol-title", tabindex: "-1" }, "Set up your authenticator app");
  const form = h("form", { class: "stack", "aria-labelledby": "mfa-enrol-title", id: "mfa-enrol" },
    heading,
    h("ol", { class: "steps" },
      h("li", {}, "Scan this QR code with your authenticator app:", h("div", {}, qr)),
      h("li", {}, "Or, if you cannot scan, enter this key in the app by hand (time-based, 6 digits): ",
        secret, " ", copyButton("Copy key", () => String(enrolment.secret), "mfa-copy-secret")),
      h("li", {}, "Enter the 6-digit code the app now shows, to check it works.")),
    field("Code from the app", code),
    h("div", { class: "actions" }, submit, cancel));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      let answer;
      try {
        answer = await api("POST", "account/mfa/confirm", { json: { code: code.value.replace(/\s+/g, "") } });
      } catch (error) {
        code.select();
        throw error;
      }
      recoveryCodesStep(body, answer.recovery_codes || []);
    });
  });
  clear(body, form);
  heading.focus();
}

/** The ten recovery codes, shown this once, with Copy and Download (.txt). */
function recoveryCodesStep(body, codes) {
  const text = [
    "DocStore recovery codes",
    `Account: ${session.account?.username || ""}`,
    "Each code works once, in place of a code from your app.",
    "",
    ...codes,
    "",
  ].join("\n");
  const download = h("button", { type: "button", id: "mfa-download" }, "Download (.txt)");
  download.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const link = h("a", { href: url, download: "docstore-recovery-codes.txt", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  const done = h("button", { type: "button", class: "primary", id: "mfa-done" }, "I have saved them");
  // Turning two-step sign-in on ends every session of the account, this device's too (metadata's
  // `account.sessions-revoked`, reason `mfa-enabled`): once the codes are saved, the person logs in
  // again, with a code, and comes back to this page.
  done.addEventListener("click", () => {
    session.notice = "Two-step sign-in is on, and every device was signed out, this one too. Log in with your password and a code from your app.";
    location.hash = "#/login?next=%2Fsecurity";
    loggedOut();
  });
  const heading = h("h3", { id: "mfa-codes-title", tabindex: "-1" }, "Two-step sign-in is on: save your recovery codes");
  clear(body,
    h("section", { "aria-labelledby": "mfa-codes-title", id: "mfa-codes" },
      heading,
      h("p", { role: "status" },
        "Keep these ten codes somewhere safe, apart from your phone. If you lose the phone, each code logs you in once. They are shown only now. Every device was signed out, this one too: when you have saved them, log in again with your password and a code from your app."),
      h("ol", { class: "recovery-codes", id: "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
      h("div", { class: "actions" }, copyButton("Copy codes", () => codes.join("\n"), "mfa-copy-codes", ""), download, done)));
  heading.focus();
}

function mfaOn(body, state) {
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const code = h("input", { name: "code", autocomplete: "one-time-code", required: true, maxlength: "32", autocapitalize: "none", spellcheck: "false" });
  const submit = h("button", { type: "submit" }, "Turn off two-step sign-in");
  const form = h("form", { class: "stack", "aria-labelledby": "mfa-off-title" },
    h("h3", { id: "mfa-off-title" }, "Turn it off"),
    field("Your password", password),
    field("Code from the app, or a recovery code", code),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      try {
        await api("DELETE", "account/mfa", { json: { password: password.value, code: code.value.trim() } });
      } catch (error) {
        code.select();
        throw error;
      }
      announce("Two-step sign-in is off.");
      mfaOff(body);
      body.querySelector("#mfa-state")?.focus();
    });
  });
  const left = state.recovery_codes_left;
  clear(body,
    h("p", { id: "mfa-state", tabindex: "-1" },
      h("strong", {}, "On."), " Logging in asks for a code from your authenticator app.",
      typeof left === "number" ? ` ${left} of 10 recovery codes left.` : ""),
    form);
}

function copyButton(label, text, id, size = "small") {
  const button = h("button", { type: "button", class: size, id }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      announce("Copied.");
    } catch {
      showError("The browser refused to copy: select the text and press Ctrl+C.");
    }
  });
  return button;
}

// ---- devices

function focusHeading(id) {
  const heading = document.getElementById(id);
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus();
}

function sessionItems(answer) {
  return Array.isArray(answer) ? answer : answer?.items || answer?.sessions || [];
}

function isCurrent(item) {
  return Boolean(item.current ?? item.is_current ?? item.this_device);
}

async function renderDevices(box) {
  let items;
  try {
    items = sessionItems(await api("GET", "account/sessions", { query: { limit: 100 } }));
  } catch (error) {
    clear(box, h("p", { class: "error-text" }, error.message));
    return;
  }
  items.sort((a, b) => Number(isCurrent(b)) - Number(isCurrent(a)));
  const others = items.filter((item) => !isCurrent(item));
  const everywhere = h("button", { type: "button", id: "sessions-keep-current", disabled: !others.length }, "Sign out everywhere else");
  everywhere.addEventListener("click", async () => {
    if (!(await confirmDialog("Sign out everywhere else?", "Every other browser and app logged in to your account must log in again.", "Sign out others"))) return;
    busy(everywhere, async () => {
      await api("DELETE", "account/sessions", { query: { keep: "current" } });
      announce("Every other device was signed out.");
      await renderDevices(box);
      focusHeading("devices-title");
    });
  });
  clear(box,
    items.length
      ? h("table", { class: "devices-table", id: "devices-table" },
        h("caption", { class: "visually-hidden" }, "Devices logged in to your account"),
        h("thead", {}, h("tr", {},
          ["Client", "Address", "Region", "Logged in", "Last seen", ""].map((text) => h("th", { scope: "col" }, text || h("span", { class: "visually-hidden" }, "Actions"))))),
        h("tbody", {}, items.map((item) => deviceRow(item, box))))
      : h("p", { class: "empty" }, "No devices."),
    h("div", { class: "actions" }, everywhere));
}

function deviceRow(item, box) {
  const id = item.session_id ?? item.id;
  const client = item.client || item.user_agent || "Unknown client";
  const current = isCurrent(item);
  let action;
  if (current) {
    action = h("span", { class: "pill ok" }, "This device");
  } else {
    action = h("button", { type: "button", class: "small", "aria-label": `Sign out ${client}, ${item.address || ""}`.trim() }, "Sign out");
    action.addEventListener("click", () => busy(action, async () => {
      await api("DELETE", `account/sessions/${encodeURIComponent(id)}`);
      announce(`${client} was signed out.`);
      await renderDevices(box);
      focusHeading("devices-title"); // the row (and its button) is gone
    }));
  }
  return h("tr", { dataset: { session: id, current: current ? "true" : "false" } },
    h("th", { scope: "row" }, client),
    h("td", {}, item.address || "–"),
    h("td", {}, item.region || "–"),
    h("td", {}, timeElement(item.created_at)),
    h("td", {}, timeElement(item.last_seen_at ?? item.last_seen ?? item.last_used_at)),
    h("td", {}, action));
}

// ---- app passwords (issue 36): for tools that speak only a username and a password

const SCOPES = { "webdav-sync": "Files, read and write (WebDAV, sync)", "read-only": "Read only" };

function appPasswordsCard(box) {
  const name = h("input", { name: "app_password_name", id: "app-password-name", required: true, maxlength: "64", autocomplete: "off" });
  const scope = h("select", { name: "scope", id: "app-password-scope" },
    Object.entries(SCOPES).map(([value, label]) => h("option", { value }, label)));
  const submit = h("button", { type: "submit" }, "Create app password");
  const shown = h("div", { id: "app-password-new", role: "status" });
  const form = h("form", { class: "stack", "aria-labelledby": "app-password-create-title" },
    h("h3", { id: "app-password-create-title" }, "New app password"),
    field("Name (the tool and the device it is for)", name),
    field("Access", scope),
    h("div", { class: "actions" }, submit),
    shown);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      const made = await api("POST", "account/app-passwords", { json: { name: name.value.trim(), scope: scope.value } });
      name.value = "";
      const secret = h("code", { id: "app-password-secret", tabindex: "0" }, made.password);
      clear(shown,
        h("p", {}, `Your app password for “${made.name}”. Copy it now: it is not shown again. `,
          `Use it with the username ${made.username}.`),
        h("p", {}, secret, " ", copyButton("Copy", () => made.password, "app-password-copy")));
      secret.focus();
      await renderAppPasswords(box);
    });
  });
  return h("section", { class: "card", "aria-labelledby": "app-passwords-title" },
    h("h2", { id: "app-passwords-title" }, "App passwords"),
    h("p", { class: "muted" },
      "For tools that ask only for a username and a password (WebDAV clients, rclone, scripts), also with two-step sign-in on. ",
      "They never sign in to this web app and never change your account's settings."),
    form,
    box);
}

async function renderAppPasswords(box) {
  let items;
  try {
    items = (await api("GET", "account/app-passwords", { query: { limit: 100 } }))?.items || [];
  } catch (error) {
    clear(box, h("p", { class: "error-text" }, error.message));
    return;
  }
  clear(box, items.length
    ? h("table", { class: "devices-table", id: "app-passwords-table" },
      h("caption", { class: "visually-hidden" }, "Your app passwords"),
      h("thead", {}, h("tr", {},
        ["Name", "Access", "Created", "Last used", ""].map((text) => h("th", { scope: "col" }, text || h("span", { class: "visually-hidden" }, "Actions"))))),
      h("tbody", {}, items.map((item) => appPasswordRow(item, box))))
    : h("p", { class: "empty" }, "No app passwords."));
}

function appPasswordRow(item, box) {
  const revoke = h("button", { type: "button", class: "small", "aria-label": `Revoke ${item.name}` }, "Revoke");
  revoke.addEventListener("click", async () => {
    if (!(await confirmDialog(`Revoke “${item.name}”?`, "The tool using it is refused from now on.", "Revoke"))) return;
    busy(revoke, async () => {
      await api("DELETE", `account/app-passwords/${encodeURIComponent(item.app_password_id)}`);
      announce(`${item.name} was revoked.`);
      await renderAppPasswords(box);
      focusHeading("app-passwords-title"); // the row (and its button) is gone
    });
  });
  return h("tr", { dataset: { appPassword: item.app_password_id } },
    h("th", { scope: "row" }, item.name),
    h("td", {}, SCOPES[item.scope] || item.scope),
    h("td", {}, timeElement(item.created_at)),
    h("td", {}, item.last_used_at ? timeElement(item.last_used_at) : "Never"),
    h("td", {}, revoke));
}
