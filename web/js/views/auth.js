// Log in (with the second step when two-step sign-in is on), sign up, and a forgotten password.
import { api, ApiError, apiBase, expectRefreshCookie, forgetSession, logIn, logInSecondStep, token } from "../api.js";
import { go, session } from "../nav.js";
import { busy, clear, field, h } from "../ui.js";

/** The hint under every new-password field (the API's refusal adds zxcvbn's advice). */
export const PASSWORD_HINT = "At least 8 characters, and not a common or guessable password.";

/** A notice from before this page (e.g. why the session ended), said once at the top of a form. */
function noticeNode() {
  const notice = session.notice;
  session.notice = null;
  return notice ? h("p", { class: "notice", role: "alert", id: "login-notice" }, notice) : null;
}

/**
 * Read a mailed link's token from the URL fragment, then drop it from the address bar and the
 * history entry (`replaceState`), so it is not left in the history, bookmarks or a shared screen.
 */
export function takeTokenFromUrl(params, route) {
  const linkToken = params.get("token") || "";
  if (linkToken) history.replaceState(history.state, "", `${location.pathname}${location.search}#/${route}`);
  return linkToken;
}

function nextRoute(params) {
  const next = params.get("next") || "";
  return next.startsWith("/") && !next.startsWith("/login") && !next.startsWith("/signup") ? next : "/files";
}

async function finishLogin(params) {
  await session.signedIn();
  location.hash = `#${nextRoute(params)}`;
}

/** Why a sign-in through the identity provider came back refused (the gateway names the kind only). */
const PROVIDER_REFUSALS = {
  "oidc-state-mismatch": "That sign-in was not started from this browser, or it took too long. Please try again.",
  "oidc-email-unverified": "Your identity provider did not confirm your e-mail address, so it cannot sign you in here yet. Confirm the address with your provider, or log in with your password.",
  "oidc-not-configured": "Signing in with an identity provider is not set up on this DocStore.",
  conflict: "This sign-in could not be completed. Please try again.",
};

export async function loginView(main, params) {
  const refusal = params.get("sign_in_error");
  if (refusal) session.notice = PROVIDER_REFUSALS[refusal] || "Your identity provider did not sign you in. Please try again.";
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: "64", autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "card auth", "aria-labelledby": "login-title", novalidate: false },
    h("h1", { id: "login-title" }, "Log in to DocStore"),
    noticeNode(),
    field("Username", username),
    field("Password", password),
    h("div", { class: "actions" }, submit, h("a", { href: "#/forgot", id: "forgot-link" }, "Forgot password?")),
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account")));
  const wrap = h("div", { class: "auth-wrap" }, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      let answer;
      try {
        answer = await logIn(username.value.trim(), password.value);
      } catch (error) {
        password.select();
        throw error;
      }
      if (answer && answer.mfa_required) {
        password.value = "";
        secondStep(main, wrap, answer, params);
        return;
      }
      await finishLogin(params);
    });
  });
  clear(main, wrap);
  username.focus();
  offerProvider(form);
}

/**
 * "Sign in with <provider>" when the operator configured an OpenID provider (issue 36): a plain link
 * to the gateway, which sends the browser to the provider and back with a session cookie.
 */
async function offerProvider(form) {
  let provider;
  try {
    const answer = await fetch(new URL(`${apiBase()}/v1/sessions/oidc`, location.href), { headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    provider = await answer.json();
  } catch {
    return; // no provider offered; the password form works as before
  }
  const link = h("a", {
    href: new URL(`${apiBase()}/v1/sessions/oidc/start`, location.href).href,
    class: "button",
    id: "oidc-sign-in",
    onclick: () => expectRefreshCookie(),
  }, `Sign in with ${provider.name}`);
  form.insertBefore(h("p", { class: "actions" }, link), form.lastChild);
}

/**
 * The second login step: a 6-digit code from the authenticator app, or (after "Use a recovery
 * code") one of the ten recovery codes. The focus moves to the step's heading, then the field.
 */
function secondStep(main, wrap, step, params) {
  let recovery = false;
  const code = h("input", {
    name: "code", autocomplete: "one-time-code", inputmode: "numeric", required: true, maxlength: "32",
    autocapitalize: "none", spellcheck: "false", pattern: "[0-9 ]{6,7}",
  });
  const hint = h("p", { class: "hint", id: "mfa-code-hint" });
  code.id = "mfa-code";
  code.setAttribute("aria-describedby", "mfa-code-hint");
  const label = h("label", { for: "mfa-code" });
  const submit = h("button", { type: "submit", class: "primary" }, "Verify");
  const toggle = h("button", { type: "button", class: "link", id: "mfa-toggle" });
  const show = () => {
    label.textContent = recovery ? "Recovery code" : "Code from your authenticator app";
    hint.textContent = recovery
      ? "One of the ten codes you saved when you set up two-step sign-in. Each works once."
      : "The 6-digit code your app shows for DocStore now.";
    toggle.textContent = recovery ? "Use a code from the app instead" : "Use a recovery code";
    code.setAttribute("inputmode", recovery ? "text" : "numeric");
    code.setAttribute("autocomplete", recovery ? "off" : "one-time-code");
    if (recovery) code.removeAttribute("pattern");
    else code.setAttribute("pattern", "[0-9 ]{6,7}");
  };
  show();
  toggle.addEventListener("click", () => {
    recovery = !recovery;
    code.value = "";
    show();
    code.focus();
  });
  const title = h("h1", { id: "mfa-title", tabindex: "-1" }, "Two-step sign-in");
  const form = h("form", { class: "card auth", "aria-labelledby": "mfa-title", id: "mfa-form" },
    title,
    h("p", {}, "Your password was right. Now enter a code to finish logging in."),
    h("div", { class: "field" }, label, code, hint),
    h("div", { class: "actions" }, submit, toggle),
    h("p", {}, h("a", { href: "#/login", onclick: (event) => { event.preventDefault(); loginView(main, params); } }, "Start again")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      const typed = code.value.trim();
      try {
        await logInSecondStep(step, recovery ? typed : typed.replace(/\s+/g, ""));
      } catch (error) {
        code.select();
        if (error instanceof ApiError && error.status === 401) {
          // A wrong code keeps the step open (the answer says `mfa_required` again); an expired or
          // spent ticket means starting again with the password.
          if (!(error.body && error.body.mfa_required)) {
            session.notice = error.message;
            await loginView(main, params);
            return;
          }
          throw new Error(recovery
            ? "That recovery code is not right, or it was used already."
            : "That code is not right, or it was used already. Wait for the next code in your app and try it.");
        }
        throw error;
      }
      await finishLogin(params);
    });
  });
  clear(wrap, form);
  title.focus();
  code.focus();
}

/** "Forgot password?": ask for a reset link. The answer is the same whether or not the account exists. */
export async function forgotView(main) {
  const name = h("input", { name: "username_or_email", autocomplete: "username", required: true, maxlength: "254", autocapitalize: "none", spellcheck: "false" });
  const submit = h("button", { type: "submit", class: "primary" }, "Send reset link");
  const result = h("div", { role: "status", id: "forgot-result" });
  const form = h("form", { class: "card auth", "aria-labelledby": "forgot-title" },
    h("h1", { id: "forgot-title" }, "Forgot your password?"),
    h("p", {}, "Enter your username or e-mail address. If an account has it, we mail a link to choose a new password."),
    field("Username or e-mail", name),
    h("div", { class: "actions" }, submit),
    result,
    h("p", {}, h("a", { href: "#/login" }, "Back to log in")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      await api("POST", "account/password-reset", { auth: false, json: { username_or_email: name.value.trim() } });
      // One message whatever the answer held: the page never tells whether the account exists.
      clear(result, h("p", { class: "notice" },
        "If an account has this username or address, we sent a link to its e-mail address. It works once, for 30 minutes. Check your spam folder too."));
    });
  });
  clear(main, h("div", { class: "auth-wrap" }, form));
  name.focus();
}

/** The page a reset mail links to (`#/reset-password?token=…`): choose a new password. */
export async function resetView(main, params) {
  const linkToken = takeTokenFromUrl(params, "reset-password");
  if (!linkToken) {
    clear(main, h("div", { class: "auth-wrap" }, h("section", { class: "card auth", "aria-labelledby": "reset-title" },
      h("h1", { id: "reset-title" }, "Choose a new password"),
      h("p", {}, "This page needs the link from the reset mail. ", h("a", { href: "#/forgot" }, "Ask for a new link")))));
    return;
  }
  const password = h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const again = h("input", { name: "new_password_again", type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const submit = h("button", { type: "submit", class: "primary" }, "Set new password");
  const form = h("form", { class: "card auth", "aria-labelledby": "reset-title" },
    h("h1", { id: "reset-title" }, "Choose a new password"),
    field("New password", password, PASSWORD_HINT),
    field("New password again", again),
    h("div", { class: "actions" }, submit));
  const wrap = h("div", { class: "auth-wrap" }, form);
  // Checked as the person types, and cleared as soon as the two agree: a custom error set only on
  // submit would stay, and the browser would then refuse every later submit (issue 37, D3).
  const compare = () => again.setCustomValidity(again.value && again.value !== password.value ? "The two passwords differ." : "");
  password.addEventListener("input", compare);
  again.addEventListener("input", compare);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    compare();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      try {
        await api("POST", "account/password-reset/confirm", { auth: false, json: { token: linkToken, new_password: password.value } });
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) password.focus();
        throw error;
      }
      // Every session ended, this browser's too: what this tab holds is refused from now on.
      if (token()) forgetSession();
      const title = h("h1", { id: "reset-title", tabindex: "-1" }, "Your password is changed");
      clear(wrap, h("section", { class: "card auth", "aria-labelledby": "reset-title" },
        title,
        h("p", { role: "status" }, "Every device that was logged in to your account has been signed out. Log in with the new password."),
        h("div", { class: "actions" }, h("a", { href: "#/login", class: "button primary", id: "reset-login" }, "Log in"))));
      title.focus();
    });
  });
  clear(main, wrap);
  password.focus();
}

export async function signupView(main, params) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: "64", autocapitalize: "none", spellcheck: "false" });
  const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true, maxlength: "254" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const free = h("input", { type: "radio", name: "plan", value: "free", id: "plan-free", checked: true });
  const premium = h("input", { type: "radio", name: "plan", value: "premium", id: "plan-premium" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create account");
  const form = h("form", { class: "card auth", "aria-labelledby": "signup-title" },
    h("h1", { id: "signup-title" }, "Create your DocStore account"),
    field("Username", username, "Letters, digits, dots, dashes and underscores."),
    field("E-mail", email, "Where we tell you when your storage fills up."),
    field("Password", password, PASSWORD_HINT),
    h("fieldset", { class: "plans" },
      h("legend", {}, "Plan"),
      h("div", { class: "plan" }, free, h("label", { for: "plan-free" }, h("strong", {}, "Free"), " — 5 GB, search by name, date and tags")),
      h("div", { class: "plan" }, premium, h("label", { for: "plan-premium" }, h("strong", {}, "Premium"), " — 20 GB, plus search inside your documents"))),
    h("div", { class: "actions" }, submit),
    h("p", {}, "Already have an account? ", h("a", { href: "#/login" }, "Log in")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      form.reportValidity();
      return;
    }
    busy(submit, async () => {
      const plan = premium.checked ? "premium" : "free";
      try {
        await api("POST", "accounts", { auth: false, json: { username: username.value.trim(), email: email.value.trim(), password: password.value, plan } });
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          username.focus();
          throw new Error(`The username “${username.value.trim()}” is taken; choose another.`);
        }
        throw error;
      }
      await logIn(username.value.trim(), password.value);
      await finishLogin(params);
    });
  });
  clear(main, h("div", { class: "auth-wrap" }, form));
  username.focus();
}

