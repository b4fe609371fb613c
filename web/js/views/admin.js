// The operator dashboard (admin accounts only): totals per plan as charts, top accounts,
// dead letters with replay.
import { api } from "../api.js";
import { announce, busy, clear, formatBytes, h, timeElement } from "../ui.js";

const PLAN_LABEL = { free: "Free", premium: "Premium" };

/** A horizontal bar chart in inline SVG, with a text alternative. */
export function barChart(title, rows, format = String) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowHeight = 34;
  const labelWidth = 90;
  const width = 360;
  const barSpace = width - labelWidth - 90;
  const height = rows.length * rowHeight + 8;
  const summary = rows.map((r) => `${r.label}: ${format(r.value)}`).join(", ");
  return h("figure", { class: "chart" },
    h("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}. ${summary}`, preserveAspectRatio: "xMinYMin meet" },
      rows.map((row, i) => {
        const y = i * rowHeight + 6;
        const w = Math.max(2, Math.round((row.value / max) * barSpace));
        return h("g", { class: `series-${i}` },
          h("text", { x: "0", y: String(y + 17), class: "chart-label" }, row.label),
          h("rect", { x: String(labelWidth), y: String(y), width: String(w), height: "22", rx: "3", class: "chart-bar" }),
          h("text", { x: String(labelWidth + w + 6), y: String(y + 17), class: "chart-value" }, format(row.value)));
      })),
    h("figcaption", {}, title));
}

export async function adminView(main, params, ctx) {
  const totals = await api("GET", "admin/totals");
  if (!ctx.isCurrent()) return;
  const plans = Object.keys(totals.plans).sort();
  const rows = (key) => plans.map((plan) => ({ label: PLAN_LABEL[plan] || plan, value: totals.plans[plan][key] }));
  const letters = h("div", { class: "table-wrap" });
  const top = h("div", { class: "table-wrap" });
  const chosen = params.get("account");
  const accountCard = chosen ? h("section", { class: "card", "aria-labelledby": "account-title" }, h("p", { class: "loading" }, "Loading the account…")) : null;

  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Admin dashboard")),
    accountCard,
    h("section", { class: "card", "aria-labelledby": "totals-title" },
      h("h2", { id: "totals-title" }, "System totals"),
      h("ul", { class: "stats" },
        h("li", {}, h("span", { class: "stat" }, String(totals.all.accounts)), " accounts"),
        h("li", {}, h("span", { class: "stat" }, String(totals.all.documents)), " documents"),
        h("li", {}, h("span", { class: "stat" }, formatBytes(totals.all.used_bytes)), " used"),
        h("li", {}, h("span", { class: "stat" }, formatBytes(totals.all.average_document_bytes)), " average document"),
        h("li", {}, h("span", { class: "stat" }, String(totals.all.over_quota)), " over quota")),
      h("div", { class: "charts" },
        barChart("Accounts per plan", rows("accounts")),
        barChart("Documents per plan", rows("documents")),
        barChart("Storage used per plan", rows("used_bytes"), formatBytes)),
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Totals per plan" }, h("table", { class: "totals-table" },
        h("caption", {}, "Totals per plan"),
        h("thead", {}, h("tr", {}, ["Plan", "Accounts", "Documents", "Used", "Stored", "Average document", "Over quota"]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, [...plans, "all"].map((plan) => {
          const t = plan === "all" ? totals.all : totals.plans[plan];
          return h("tr", { dataset: { plan } },
            h("th", { scope: "row" }, plan === "all" ? "All plans" : PLAN_LABEL[plan] || plan),
            h("td", { class: "num" }, String(t.accounts)), h("td", { class: "num" }, String(t.documents)),
            h("td", { class: "num" }, formatBytes(t.used_bytes)), h("td", { class: "num" }, formatBytes(t.stored_bytes)),
            h("td", { class: "num" }, formatBytes(t.average_document_bytes)), h("td", { class: "num" }, String(t.over_quota)));
        }))))),
    h("section", { class: "card", "aria-labelledby": "top-title" }, h("h2", { id: "top-title" }, "Accounts using the most storage"), top),
    h("section", { class: "card", "aria-labelledby": "dlq-title" },
      h("h2", { id: "dlq-title" }, "Dead letters"),
      h("p", { class: "muted" }, "Events a consumer kept failing on. Replaying one publishes it again to its topic; consumers are idempotent."),
      letters));

  api("GET", "admin/accounts/top", { query: { limit: 10 } }).then(async ({ items: accounts }) => {
    const named = await Promise.all(accounts.map((a) => accountNamed(a.account_id)));
    if (!ctx.isCurrent()) return;
    clear(top, accounts.length
      ? h("table", { class: "top-accounts" },
        h("thead", {}, h("tr", {}, ["Account", "Region", "Plan", "Used", "Of cap"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, accounts.map((a, i) => h("tr", { dataset: { accountId: a.account_id } },
          h("td", {}, h("a", { href: `#/admin?account=${encodeURIComponent(a.account_id)}`, class: "account-link" }, named[i]?.username || `account ${a.account_id.slice(0, 8)}`)),
          h("td", {}, named[i]?.home_region || "—"), h("td", {}, PLAN_LABEL[a.plan] || a.plan),
          h("td", { class: "num" }, formatBytes(a.used_bytes)), h("td", { class: "num" }, `${a.percent_used.toFixed(1)} %`)))))
      : h("p", { class: "empty" }, "No accounts yet."));
  }).catch((error) => clear(top, h("p", { class: "error-text" }, error.message)));

  if (chosen) showAccount(accountCard, chosen);

  let cursor = null;
  async function loadLetters(append = false) {
    const page = await api("GET", "admin/dlq", { query: { limit: 50, cursor } });
    cursor = page.next_cursor;
    const items = page.items.map((l) => h("tr", { dataset: { letter: l.id } },
      h("td", {}, l.original_topic, h("div", { class: "muted small" }, `${l.topic}:${l.partition}:${l.offset}`)),
      h("td", {}, l.event_type || "—", h("div", { class: "muted small mono" }, l.event_id || "")),
      h("td", {}, l.consumer),
      h("td", { class: "error-cell" }, l.error),
      h("td", {}, timeElement(l.failed_at)),
      h("td", {}, h("button", {
        type: "button", class: "small", "aria-label": `Replay dead letter ${l.id}`,
        onclick: (e) => busy(e.currentTarget, async () => {
          const done = await api("POST", `admin/dlq/${encodeURIComponent(l.topic)}/${l.partition}/${l.offset}/replay`);
          e.target.textContent = "Replayed";
          announce(`Event ${done.event_id || done.id} replayed to ${done.topic}.`);
        }),
      }, "Replay"))));
    if (!append) {
      clear(letters, items.length
        ? h("table", { class: "dlq" },
          h("thead", {}, h("tr", {}, ["Topic", "Event", "Consumer", "Error", "Failed", ""].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, items))
        : h("p", { class: "empty" }, "No dead letters: every event was handled."));
    } else {
      letters.querySelector("tbody")?.append(...items);
    }
    letters.querySelector(".more")?.remove();
    if (cursor) letters.append(h("button", { type: "button", class: "more", onclick: (e) => busy(e.currentTarget, () => loadLetters(true)) }, "Show more"));
  }
  loadLetters().catch((error) => clear(letters, h("p", { class: "error-text" }, error.message)));
}

/** One account's name, region and plan (metadata's admin route), or null when it cannot be read. */
function accountNamed(accountId) {
  return api("GET", `admin/accounts/${encodeURIComponent(accountId)}`).catch(() => null);
}

/** The account an operator clicked through to: who it is, where it lives, what it uses. */
async function showAccount(card, accountId) {
  const title = h("h2", { id: "account-title" }, "Account");
  const account = await accountNamed(accountId);
  if (!account) {
    clear(card, title, h("p", { class: "error-text" }, "This account could not be found."));
    return;
  }
  clear(card, h("h2", { id: "account-title" }, `Account ${account.username}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Username"), h("dd", {}, account.username),
      h("dt", {}, "Email"), h("dd", {}, account.email),
      h("dt", {}, "Home region"), h("dd", {}, account.home_region),
      h("dt", {}, "Plan"), h("dd", {}, PLAN_LABEL[account.plan] || account.plan),
      h("dt", {}, "Status"), h("dd", {}, account.status || "active"),
      h("dt", {}, "Id"), h("dd", { class: "mono" }, account.account_id)),
    h("p", {}, h("a", { href: "#/admin" }, "Back to all accounts")));
}
