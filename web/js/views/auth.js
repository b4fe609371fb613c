// Log in and sign up.
import { api, ApiError, logIn } from "../api.js";
import { go, session } from "../nav.js";
import { busy, clear, field, h } from "../ui.js";

function nextRoute(params) {
  const next = params.get("next") || "";
  return next.startsWith("/") && !next.startsWith("/login") && !next.startsWith("/signup") ? next : "/files";
}

async function finishLogin(params) {
  await session.signedIn();
  location.hash = `#${nextRoute(params)}`;
}

export async function loginView(main, params) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: "64", autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "card auth", "aria-labelledby": "login-title", novalidate: false },
    h("h1", { id: "login-title" }, "Log in to DocStore"),
    field("Username", username),
    field("Password", password),
    h("div", { class: "actions" }, submit),
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      try {
        await logIn(username.value.trim(), password.value);
      } catch (error) {
        password.select();
        throw error;
      }
      await finishLogin(params);
    });
  });
  clear(main, h("div", { class: "auth-wrap" }, form));
  username.focus();
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
    field("Password", password, "At least 8 characters, and not a common or guessable password."),
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

