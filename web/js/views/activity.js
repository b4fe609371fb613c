// The "Activity" page: the person's own audit trail (GET /v1/account/activity), newest first,
// "Load more" a page at a time, a filter by action, and Verify (the hash chain checked by the
// server: GET /v1/account/activity/verify).
import { api } from "../api.js";
import { go } from "../nav.js";
import { busy, clear, field, h } from "../ui.js";

const PAGE_SIZE = 50;

/** What each recorded action means, in plain words (unknown ones are shown as they are named). */
export const ACTION_WORDS = {
  "account.created": "Signed up",
  "account.logged-in": "Logged in",
  "account.login-failed": "Failed login",
  "session.ended": "Logged out",
  "account.plan-changed": "Changed plan",
  "account.deleted": "Deleted the account",
  "account.username-conflicted": "Lost the username to a sign-up in another region",
  "account.email-verified": "Verified the e-mail address",
  "account.password-changed": "Changed the password",
  "account.password-reset": "Reset the password",
  "account.mfa-changed": "Turned two-step sign-in on or off",
  "account.app-password-created": "Created an app password",
  "account.app-password-revoked": "Revoked an app password",
  "account.identity-unlinked": "Unlinked a sign-in provider",
  "account.sessions-revoked": "Signed out on every device",
  "account.new-sign-in": "Signed in from a new device",
  "account.email-changed": "Changed the e-mail address",
  "upload.initiated": "Started an upload",
  "upload.batch-initiated": "Started uploads",
  "upload.completed": "Uploaded a file",
  "file.download-url-issued": "Downloaded a file",
  "file.details-changed": "Renamed, moved or tagged a file",
  "folder.created": "Made a folder",
  "folder.moved": "Renamed or moved a folder",
  "folder.trashed": "Moved a folder to the trash",
  "folder.restored": "Restored a folder from the trash",
  "file.modified": "Saved a new version",
  "file.trashed": "Moved a file to the trash",
  "file.restored": "Restored a file",
  "file.deleted": "Deleted a file for good",
  "share.created": "Shared a file",
  "share.revoked": "Stopped sharing a file",
  "share.link-created": "Created a public link",
  "share.link-used": "A public link was used",
  "share.link-revoked": "Revoked a public link",
  "share.link-extended": "Extended a public link",
  "share.link-expired": "A public link expired",
  "file.followed": "Followed a file",
  "file.unfollowed": "Stopped following a file",
  "notification.preferences-changed": "Changed mail preferences",
  "admin.dead-letter-replayed": "Replayed a dead letter (admin)",
  "admin.reconciliation-run": "Ran a reconciliation (admin)",
};

/** A record's time in the reader's own format, to the second (records often come seconds apart). */
function recordTime(iso) {
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return h("time", { datetime: iso || "" }, text);
}

/** An action in words: the table's, else its id made readable ("folder.renamed" → "Folder renamed"),
 * never a raw event id. */
export function actionWords(action) {
  if (ACTION_WORDS[action]) return ACTION_WORDS[action];
  const words = String(action || "").replace(/[._-]+/g, " ").trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : "Something happened";
}

/** "Chrome on Linux", "Firefox on Windows", "python-httpx 0.27", ...: a user agent in a few words. */
export function shortAgent(agent) {
  if (!agent) return "—";
  const browsers = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Chromium/", "Chromium"], ["Safari/", "Safari"]];
  const systems = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS X", "macOS"], ["CrOS", "ChromeOS"], ["Linux", "Linux"]];
  const browser = browsers.find(([mark]) => agent.includes(mark));
  const system = systems.find(([mark]) => agent.includes(mark));
  if (browser) return `${browser[1]}${agent.includes("Headless") ? " (headless)" : ""}${system ? ` on ${system[1]}` : ""}`;
  // A program: its first product token ("python-httpx/0.27.0" -> "python-httpx 0.27.0").
  const first = agent.split(/\s+/)[0].replace("/", " ");
  return first.length > 40 ? `${first.slice(0, 39)}…` : first;
}

function whoCell(item) {
  if (item.actor?.link_id) return h("span", { class: "muted small" }, "through a public link");
  return null;
}

/** The document's name as the record's details carry it (events name it differently), if they do. */
function recordedName(item) {
  const details = item.details || {};
  return details.name || details.document_name || details.filename || null;
}

/** The document a record is about: its name when known (from the record, or looked up once), else its id. */
function documentCell(item, names) {
  if (!item.document_id) return h("span", { class: "muted" }, "—");
  const known = recordedName(item) || names.get(item.document_id);
  if (known) return h("a", { href: `#/files?open=${encodeURIComponent(item.document_id)}` }, known);
  return h("span", { class: "mono", title: item.document_id }, item.document_id.slice(0, 8));
}

export async function activityView(main, params, ctx) {
  const action = params.get("action") || "";
  // `#/activity?limit=N` sets the page size (for tests of "Load more"); the API allows 1..200.
  const limit = Math.min(200, Math.max(1, Number(params.get("limit")) || PAGE_SIZE));
  const names = new Map(); // document id -> name (null: gone)
  let cursor = null;

  const filter = h("select", { id: "activity-action", name: "action" },
    h("option", { value: "" }, "All actions"),
    Object.entries(ACTION_WORDS).map(([value, words]) => h("option", { value, selected: value === action }, words)));
  if (action && !ACTION_WORDS[action]) filter.append(h("option", { value: action, selected: true }, actionWords(action)));
  filter.addEventListener("change", () => go("activity", { action: filter.value, limit: params.get("limit") }));

  const verdict = h("p", { id: "verify-result", class: "verify-result", role: "status", "aria-live": "polite" });
  const verify = h("button", {
    type: "button",
    onclick: (e) => busy(e.currentTarget, async () => {
      clear(verdict, "Checking…");
      verdict.dataset.ok = "";
      const result = await api("GET", "account/activity/verify");
      verdict.dataset.ok = result.ok ? "true" : "false";
      clear(verdict, result.ok
        ? `OK: all ${result.checked} records are intact; none was changed or removed.`
        : `Not intact: the chain breaks at record ${result.broken_at ?? "?"} (${result.checked} checked). Contact support.`);
    }),
  }, "Verify");

  const rows = h("tbody");
  const table = h("table", { class: "activity-table" },
    h("caption", { class: "visually-hidden" }, "Your activity, newest first"),
    h("thead", {}, h("tr", {},
      ["When", "Action", "Document", "From", "Device", "Outcome"].map((t) => h("th", { scope: "col" }, t)))),
    rows);
  const list = h("div", { class: "table-wrap" });
  const more = h("button", { type: "button", class: "more", onclick: (e) => busy(e.currentTarget, load) }, "Load more");

  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Activity"),
      h("div", { class: "actions" }, verify)),
    h("p", { class: "muted" }, "Everything done with your account and your files, from any device or link. Records cannot be changed: Verify checks that none was."),
    verdict,
    h("div", { class: "toolbar" }, field("Show", filter)),
    list,
    h("div", { class: "pager" }, more));

  async function lookUpNames(items) {
    const wanted = [...new Set(items.map((i) => i.document_id).filter((id) => id && !names.has(id)))];
    await Promise.all(wanted.map(async (id) => {
      try {
        names.set(id, (await api("GET", `documents/${encodeURIComponent(id)}`)).name);
      } catch {
        names.set(id, null); // deleted, or not ours any more: the id stands in
      }
    }));
  }

  async function load() {
    const page = await api("GET", "account/activity", { query: { limit, cursor, action } });
    if (!ctx.isCurrent()) return;
    await lookUpNames(page.items.filter((i) => !recordedName(i)));
    if (!ctx.isCurrent()) return;
    cursor = page.next_cursor;
    rows.append(...page.items.map((item) => h("tr", { dataset: { seq: String(item.seq), action: item.action, outcome: item.outcome } },
      h("td", { "data-label": "When" }, recordTime(item.at)),
      h("td", { "data-label": "Action" }, actionWords(item.action), whoCell(item) ? [" ", whoCell(item)] : null),
      h("td", { "data-label": "Document" }, documentCell(item, names)),
      h("td", { "data-label": "From", class: "address" }, item.client_address || "—"),
      h("td", { "data-label": "Device", title: item.user_agent || null }, shortAgent(item.user_agent)),
      h("td", { "data-label": "Outcome" },
        h("span", { class: `outcome outcome-${item.outcome}` }, item.outcome === "failure" ? "Failed" : "Done")))));
    if (!rows.children.length) {
      clear(list, h("p", { class: "empty" }, action ? `No “${actionWords(action)}” recorded.` : "Nothing recorded yet."));
    } else if (!list.contains(table)) {
      clear(list, table);
    }
    more.hidden = !cursor;
  }
  await load();
}
