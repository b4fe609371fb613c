// Usage against the plan's cap; account, plan, notification preferences and recent notifications.
import { api, apiAll, apiBase, logOutEverywhere } from "../api.js";
import { session } from "../nav.js";
import { announce, busy, clear, confirmDialog, formatBytes, h, timeElement } from "../ui.js";

/** ok below 80 %, warning from 80 %, critical from 95 %, full when over the cap (quota's levels). */
export function usageLevel(usage) {
  if (usage.over_quota || usage.used_bytes >= usage.cap_bytes) return "full";
  if (usage.percent_used >= 95) return "critical";
  if (usage.percent_used >= 80) return "warning";
  return "ok";
}

const LEVEL_TEXT = {
  ok: "You have plenty of room.",
  warning: "Your storage is more than 80 % full.",
  critical: "Your storage is almost full: uploads will soon be refused.",
  full: "Your storage is full: new uploads are refused until you free space or upgrade.",
};

export function usageBar(usage) {
  const level = usageLevel(usage);
  const percent = Math.min(100, Math.max(0, usage.percent_used));
  const fill = h("div", { class: "bar-fill" });
  fill.style.width = `${percent}%`;
  return h("div", { class: `usage level-${level}`, dataset: { level } },
    h("div", {
      class: "bar", role: "meter", "aria-label": "Storage used",
      "aria-valuemin": "0", "aria-valuemax": String(usage.cap_bytes), "aria-valuenow": String(Math.min(usage.used_bytes, usage.cap_bytes)),
      "aria-valuetext": `${formatBytes(usage.used_bytes)} of ${formatBytes(usage.cap_bytes)} (${percent.toFixed(0)} %)`,
    }, fill),
    h("p", { class: "usage-numbers" },
      h("strong", {}, formatBytes(usage.used_bytes)), ` of ${formatBytes(usage.cap_bytes)} used (${percent.toFixed(1)} %) · `,
      `${formatBytes(usage.room_bytes)} left · ${usage.documents} ${usage.documents === 1 ? "document" : "documents"}`),
    h("p", { class: "usage-message", role: level === "ok" ? null : "status" }, LEVEL_TEXT[level]));
}

let plansAsked = null;

/**
 * The plans and their monthly prices (GET /plans: the operator's settings, issue 37), as
 * {free, premium}, asked once per page load (a failed ask is asked again next time).
 */
export function planPrices() {
  plansAsked ??= api("GET", "plans")
    .then((answer) => Object.fromEntries(answer.plans.map((offer) => [offer.plan, offer])))
    .catch((error) => { plansAsked = null; throw error; });
  return plansAsked;
}

/** A plan's price in words: "€4.99 a month", or "free of charge". */
export function priceText(offer) {
  const amount = Number(offer.monthly_price);
  if (amount === 0) return "free of charge";
  return `${new Intl.NumberFormat(undefined, { style: "currency", currency: offer.currency }).format(amount)} a month`;
}

export async function usageView(main) {
  const [usage, prices] = await Promise.all([api("GET", "usage"), planPrices().catch(() => null)]);
  const plan = usage.plan === "premium" ? "premium" : "free";
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Usage")),
    h("section", { class: "card", "aria-labelledby": "usage-title" },
      h("h2", { id: "usage-title" }, `Storage on the ${plan === "premium" ? "Premium" : "Free"} plan`),
      usageBar(usage),
      usage.stored_bytes !== usage.used_bytes
        ? h("p", { class: "muted small" }, `${formatBytes(usage.stored_bytes)} are stored in all, counting old versions and the trash.`)
        : null,
      prices
        ? h("p", { class: "plan-price" }, `Your plan: ${prices[plan].name}, ${priceText(prices[plan])}.`,
          plan === "free" ? ` Premium: 20 GB and search inside your documents, ${priceText(prices.premium)}.` : "")
        : null,
      plan !== "premium" ? planButton("premium", "Upgrade to Premium (20 GB)") : null));
}

/**
 * What a plan change does and what it costs, asked before it is made (one click never changes the
 * plan). Without the prices (the API did not answer) nothing is asked and nothing changes: the
 * error says why, and the person tries again.
 */
export async function confirmPlanChange(plan) {
  const prices = await planPrices();
  const premium = priceText(prices.premium);
  return plan === "premium"
    ? confirmDialog("Upgrade to Premium?",
      `Premium costs ${premium}. It gives you 20 GB instead of 5 GB, and search inside your documents. The change applies at once.`,
      `Upgrade for ${premium}`)
    : confirmDialog("Move to Free?",
      `Free is ${priceText(prices.free)}: you no longer pay ${premium}. It gives you 5 GB, and search by name, tags and dates only: the words inside your documents are no longer searched. If you store more than 5 GB, you cannot upload until you delete some.`,
      "Move to Free");
}

function planButton(plan, label) {
  const button = h("button", { type: "button", class: plan === "premium" ? "primary" : "" }, label);
  button.addEventListener("click", () => busy(button, async () => {
    if (!(await confirmPlanChange(plan))) return;
    await api("PUT", "account/plan", { json: { plan } });
    await session.signedIn();
    announce(`Your account is on ${plan === "premium" ? "Premium" : "Free"} now.`);
    location.reload();
  }));
  return button;
}

const KINDS = [
  ["quota_warning", "Storage getting full", "At 80 % and 95 % of your storage."],
  ["quota_exceeded", "Storage full", "When uploads start being refused."],
  ["quota_restored", "Storage available again", "When you are back under your cap."],
  ["upload_expired", "Upload did not finish", "A file you started uploading never arrived."],
  ["file_modified", "Changes to files you follow", "Someone else changed a file you follow."],
  ["share_links", "Your public links", "A day before a link expires, and when one reaches its download limit."],
  ["share_received", "Files shared with you", "When someone shares a file with you: who, which file, view or edit."],
  ["security", "New sign-ins", "When your account signs in from a device or address it had not used before."],
];

export async function settingsView(main) {
  const [account, preferences, notifications] = await Promise.all([
    api("GET", "account"),
    api("GET", "notifications/preferences"),
    api("GET", "notifications", { query: { limit: 10 } }).catch(() => ({ items: [] })),
  ]);
  const selects = {};
  const save = h("button", { type: "submit", class: "primary" }, "Save preferences");
  const prefsForm = h("form", { class: "prefs" },
    h("table", { class: "prefs-table" },
      h("caption", { class: "visually-hidden" }, "How to tell you about each kind of event"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Notification"), h("th", { scope: "col" }, "How"))),
      h("tbody", {}, KINDS.map(([kind, label, hint]) => {
        const select = h("select", { id: `pref-${kind}`, name: kind, "aria-describedby": `pref-${kind}-hint` },
          [["instant", "Mail at once"], ["digest", "In the daily digest"], ["off", "Off"]]
            .map(([value, text]) => h("option", { value, selected: (preferences[kind] || "instant") === value }, text)));
        selects[kind] = select;
        return h("tr", {},
          h("th", { scope: "row" }, h("label", { for: select.id }, label), h("div", { class: "muted small", id: `pref-${kind}-hint` }, hint)),
          h("td", {}, select));
      }))),
    h("div", { class: "actions" }, save));
  prefsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(save, async () => {
      const body = Object.fromEntries(Object.entries(selects).map(([kind, select]) => [kind, select.value]));
      await api("PUT", "notifications/preferences", { json: body });
      announce("Notification preferences saved.");
    });
  });

  const followsList = h("div", {}, h("p", { class: "loading" }, "Loading…"));
  renderFollows(followsList);
  const providersCard = h("div", { id: "sign-in-providers-slot" });
  renderProviders(providersCard, account);
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Settings")),
    h("section", { class: "card", "aria-labelledby": "account-title" },
      h("h2", { id: "account-title" }, "Account"),
      h("dl", { class: "facts" },
        h("dt", {}, "Username"), h("dd", {}, account.username),
        h("dt", {}, "E-mail"), h("dd", {}, account.email),
        h("dt", {}, "Plan"), h("dd", {}, account.plan === "premium" ? "Premium" : "Free"),
        h("dt", {}, "Home region"), h("dd", {}, account.home_region)),
      account.plan === "premium" ? planButton("free", "Move to Free") : planButton("premium", "Upgrade to Premium")),
    sessionsCard(),
    providersCard,
    h("section", { class: "card", "aria-labelledby": "prefs-title" },
      h("h2", { id: "prefs-title" }, "Notifications"),
      h("p", { class: "muted" }, "Choose how DocStore mails you about each kind of event."),
      prefsForm),
    h("section", { class: "card", "aria-labelledby": "follows-title" },
      h("h2", { id: "follows-title" }, "Files you follow"),
      h("p", { class: "muted" }, "You get a mail (as chosen above for “Changes to files you follow”) when someone else changes one."),
      followsList),
    h("section", { class: "card", "aria-labelledby": "recent-title" },
      h("h2", { id: "recent-title" }, "Recent notifications"),
      notifications.items.length
        ? h("ul", { class: "notifications" }, notifications.items.map((n) => h("li", {},
          h("strong", {}, n.subject), h("div", { class: "muted small" }, timeElement(n.created_at), ` · ${n.status}`))))
        : h("p", { class: "empty" }, "Nothing yet.")));
}

/** Log out of all devices: every browser and app signed in to this account must log in again. */
function sessionsCard() {
  const button = h("button", { type: "button", id: "logout-everywhere" }, "Log out of all devices");
  button.addEventListener("click", () => busy(button, () => logOutEverywhere()));
  return h("section", { class: "card", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, "Sessions"),
    h("p", { class: "muted" }, "You stay logged in on this browser until you log out. Lost a phone or used a shared computer? End every session at once."),
    h("div", { class: "actions" }, button,
      h("a", { href: "#/security", class: "button", id: "security-link" }, "Password, two-step sign-in and devices")));
}

async function renderFollows(box) {
  let follows;
  try {
    follows = await apiAll("account/follows");
  } catch (error) {
    clear(box, h("p", { class: "error-text" }, error.message));
    return;
  }
  if (!follows.length) {
    clear(box, h("p", { class: "empty" }, "You follow no files. Open a document and choose “Follow changes”."));
    return;
  }
  const docs = await Promise.all(follows.map((f) => api("GET", `documents/${encodeURIComponent(f.document_id)}`).catch(() => null)));
  clear(box, h("ul", { class: "notifications" }, follows.map((follow, i) => {
    const name = docs[i]?.name || "A document you can no longer open";
    return h("li", { class: "follow-item" },
      h("span", {}, h("strong", {}, name), h("div", { class: "muted small" }, "Following since ", timeElement(follow.created_at))),
      h("button", {
        type: "button", class: "small", "aria-label": `Stop following ${name}`,
        onclick: (e) => busy(e.currentTarget, async () => {
          await api("DELETE", `documents/${encodeURIComponent(follow.document_id)}/follow`);
          announce(`You no longer follow ${name}.`);
          await renderFollows(box);
        }),
      }, "Stop following"));
  })));
}

// ---- sign-in providers (issue 36): the OpenID identities linked to the account

/** The configured provider ({name, password_sign_in}), or null: none, or the gateway cannot say. */
async function configuredProvider() {
  try {
    const answer = await fetch(new URL(`${apiBase()}/v1/sessions/oidc`, location.href), { headers: { Accept: "application/json" } });
    return answer.ok ? await answer.json() : null;
  } catch {
    return null;
  }
}

/** The "Sign-in providers" card: shown only when a provider is configured or an identity is linked. */
async function renderProviders(slot, account) {
  let items;
  let provider;
  try {
    [items, provider] = await Promise.all([apiAll("account/identities"), configuredProvider()]);
  } catch (error) {
    clear(slot, h("section", { class: "card", "aria-labelledby": "providers-title" },
      h("h2", { id: "providers-title" }, "Sign-in providers"), h("p", { class: "error-text" }, error.message)));
    return;
  }
  if (!provider && !items.length) {
    clear(slot);
    return;
  }
  const lastWayIn = items.some((item) => !item.can_unlink);
  const setPassword = h("button", { type: "button", id: "providers-set-password" }, "Mail me a link to set a password");
  setPassword.addEventListener("click", () => busy(setPassword, async () => {
    await api("POST", "account/password-reset", { json: { username_or_email: account.username } });
    announce(`We mailed a link to set a password to ${account.email}.`);
  }));
  clear(slot, h("section", { class: "card", "aria-labelledby": "providers-title" },
    h("h2", { id: "providers-title" }, "Sign-in providers"),
    h("p", { class: "muted" },
      "Identities of your organisation's sign-in service that sign in to this account. ",
      "Unlinking one does not sign out any device. If you sign in with it again and it confirms your e-mail address, it is linked again."),
    items.length
      ? h("table", { class: "devices-table", id: "providers-table" },
        h("caption", { class: "visually-hidden" }, "Identities linked to your account"),
        h("thead", {}, h("tr", {},
          ["Provider", "Linked", "Last sign-in", ""].map((text) => h("th", { scope: "col" }, text || h("span", { class: "visually-hidden" }, "Actions"))))),
        h("tbody", {}, items.map((item) => providerRow(item, slot, account))))
      : h("p", { class: "empty" }, `Nothing linked. Sign in with ${provider.name} once to link it.`),
    lastWayIn && provider?.password_sign_in !== false
      ? h("div", { class: "stack", id: "providers-last-way-in" },
        h("p", {}, "Your account has no password, so your provider is the only way you sign in and cannot be unlinked. ",
          "Set a password first: we mail a link to your address."),
        h("div", { class: "actions" }, setPassword))
      : null));
}

function providerRow(item, slot, account) {
  const label = `Unlink ${item.provider}`;
  const unlink = h("button", { type: "button", class: "small", "aria-label": label }, "Unlink");
  unlink.addEventListener("click", async () => {
    // The last way in is refused by the server with what to do instead: no confirmation first.
    if (item.can_unlink && !(await confirmDialog(`Unlink ${item.provider}?`, "It no longer signs in to this account by its link. Your devices stay signed in.", "Unlink"))) return;
    busy(unlink, async () => {
      await api("DELETE", `account/identities/${encodeURIComponent(item.identity_id)}`);
      announce(`${item.provider} was unlinked.`);
      await renderProviders(slot, account);
      const heading = document.getElementById("providers-title");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus(); // the row (and its button) is gone
      }
    });
  });
  return h("tr", { dataset: { identity: item.identity_id } },
    h("th", { scope: "row" }, item.provider, item.provider !== item.issuer ? h("div", { class: "muted small" }, item.issuer) : null),
    h("td", {}, timeElement(item.linked_at)),
    h("td", {}, item.last_signed_in_at ? timeElement(item.last_signed_in_at) : "Never"),
    h("td", {}, unlink));
}
