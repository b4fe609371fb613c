// Public share links: the panel in a document's details (create, copy once, list, extend, revoke)
// and the "Links" page listing every link the person made or owns, a page at a time.
//
// A link's token is shown once, right after it is made (the API stores only its hash); after
// that the lists show the link's state, expiry and downloads, never its address.
import { api, apiAll, publicLinkUrl } from "../api.js";
import {
  announce, busy, clear, confirmDialog, errorNodes, field, formatDate, h, openDialog, timeElement,
} from "../ui.js";

const PAGE_SIZE = 25;
const DEFAULT_DAYS = 7;
const MAX_DAYS = 90;

const STATE_WORDS = { active: "Active", expired: "Expired", revoked: "Revoked", exhausted: "Download limit reached" };

/** "1 / 5" or "3" (no limit): how often a link was used. */
export function downloadsText(link) {
  return link.download_limit ? `${link.downloads} / ${link.download_limit}` : String(link.downloads);
}

function stateBadge(link) {
  return h("span", { class: `link-state link-${link.state}` }, STATE_WORDS[link.state] || link.state);
}

function linkLabel(link) {
  const what = link.document_name || "document";
  return `${what}${link.version ? ` (version ${link.version})` : ""}, made ${new Date(link.created_at).toLocaleDateString()}`;
}

/** Copy `text`: the Clipboard API where the page may use it, else a selection and execCommand. */
export async function copyText(text, input) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused (no focus, no permission): fall back to the selection below.
  }
  if (input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Run a dialog's action with its refusal said inside the dialog (the page's alert sits behind a
 * modal): the API's own `detail`, in a role="alert" paragraph above the buttons.
 */
function inDialog(button, problem, action) {
  return busy(button, async () => {
    problem.hidden = true;
    try {
      await action();
    } catch (error) {
      clear(problem, errorNodes(error));
      problem.hidden = false;
    }
  });
}

function problemBox() {
  return h("p", { class: "form-error error-text", role: "alert", hidden: true });
}

/** The box that shows a new link's address once, with Copy. */
function createdLinkBox(url) {
  const input = h("input", { type: "text", readonly: true, value: url, class: "link-url mono", name: "public-link-url", spellcheck: "false" });
  const result = h("p", { class: "hint", "aria-live": "polite" });
  const copy = h("button", {
    type: "button", class: "primary",
    onclick: async () => {
      const copied = await copyText(url, input);
      result.textContent = copied ? "Link copied to the clipboard." : "Could not copy: select the link and press Ctrl+C (⌘C on a Mac).";
      if (copied) announce("Link copied.");
    },
  }, "Copy link");
  input.addEventListener("focus", () => input.select());
  return h("div", { class: "created-link" },
    h("p", {}, h("strong", {}, "Your link is ready. "), "Copy it now: for your safety it is shown only this once."),
    h("div", { class: "copy-row" }, field("Public link", input), copy),
    result);
}

/**
 * Ask for the new link's options and create it; resolves once the dialog closes. `onCreated` runs
 * after a link was made (to reload a list).
 */
export function createLinkDialog(doc, onCreated) {
  const { body, close } = openDialog(`Public link to ${doc.name}`);
  const days = h("input", { type: "number", name: "link-days", min: "1", max: String(MAX_DAYS), value: String(DEFAULT_DAYS), required: true, inputmode: "numeric" });
  const password = h("input", { type: "password", name: "link-password", autocomplete: "new-password", maxlength: "256" });
  const limit = h("input", { type: "number", name: "link-limit", min: "1", inputmode: "numeric" });
  const note = h("textarea", { name: "link-note", maxlength: "500", rows: "2" });
  const version = h("select", { name: "link-version" }, h("option", { value: "" }, "Always the latest version"));
  apiAll(`documents/${encodeURIComponent(doc.document_id)}/versions`)
    .then((versions) => {
      for (const v of versions) version.append(h("option", { value: String(v.version) }, `Version ${v.version}${v.version === doc.version ? " (current)" : ""}`));
    })
    .catch(() => {}); // the latest version is still offered
  const create = h("button", { type: "submit", class: "primary" }, "Create link");
  const problem = problemBox();
  const form = h("form", { class: "link-form", "aria-label": "Public link options" },
    h("p", { class: "muted" }, "Anyone who has the link can download this file, without an account."),
    field("Expires after (days)", days, `From 1 to ${MAX_DAYS} days.`),
    field("Password (optional)", password, "The person opening the link must type it."),
    field("Download limit (optional)", limit, "The link stops working after this many downloads."),
    field("Note (optional)", note, "Shown on the link's page; up to 500 characters."),
    field("Version", version),
    problem,
    h("div", { class: "actions" }, create, h("button", { type: "button", onclick: close }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    inDialog(create, problem, async () => {
      const json = { expires_in_days: Number(days.value) || DEFAULT_DAYS };
      if (password.value) json.password = password.value;
      if (limit.value) json.download_limit = Number(limit.value);
      if (note.value.trim()) json.note = note.value.trim();
      if (version.value) json.version = Number(version.value);
      const link = await api("POST", `documents/${encodeURIComponent(doc.document_id)}/links`, { json });
      const url = link.token ? publicLinkUrl(link.token) : link.url;
      clear(body, createdLinkBox(url),
        h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Done")));
      body.querySelector("button.primary").focus();
      onCreated?.(link);
    });
  });
  body.append(form);
  days.focus();
}

function extendDialog(link, onChange) {
  const { body, close } = openDialog("Extend the link");
  const days = h("input", { type: "number", name: "extend-days", min: "1", max: String(MAX_DAYS), value: String(DEFAULT_DAYS), required: true, inputmode: "numeric" });
  const save = h("button", { type: "submit", class: "primary" }, "Extend");
  const problem = problemBox();
  const form = h("form", {},
    h("p", {}, `The link to ${link.document_name || "this document"} will work until this many days from now.`),
    field("Days from now", days, `At most ${MAX_DAYS}.`),
    problem,
    h("div", { class: "actions" }, save, h("button", { type: "button", onclick: close }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    inDialog(save, problem, async () => {
      const updated = await api("PATCH", `links/${encodeURIComponent(link.id)}`, { json: { expires_in_days: Number(days.value) } });
      close();
      announce(`The link now expires ${formatDate(updated.expires_at)}.`);
      onChange();
    });
  });
  body.append(form);
  days.focus();
}

async function revoke(link, onChange) {
  if (!(await confirmDialog("Revoke this link?", "Anyone who has it will be refused from now on. This cannot be undone.", "Revoke link"))) return;
  await api("DELETE", `links/${encodeURIComponent(link.id)}`);
  announce("Link revoked.");
  onChange();
}

/** A table of links; `withDocument` adds the document's column (the Links page). */
function linksTable(links, { withDocument, onChange, caption }) {
  return h("table", { class: "links-table" },
    h("caption", { class: withDocument ? "visually-hidden" : null }, caption),
    h("thead", {}, h("tr", {},
      withDocument ? h("th", { scope: "col" }, "Document") : null,
      h("th", { scope: "col" }, "State"),
      h("th", { scope: "col" }, "Expires"),
      h("th", { scope: "col", class: "num" }, "Downloads"),
      h("th", { scope: "col" }, "Password"),
      h("th", { scope: "col" }, "Note"),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
    h("tbody", {}, links.map((link) => h("tr", { dataset: { linkId: link.id, state: link.state } },
      withDocument
        ? h("td", { "data-label": "Document" },
          h("a", { href: `#/files?open=${encodeURIComponent(link.document_id)}` }, link.document_name || link.document_id),
          link.version ? h("div", { class: "muted small" }, `version ${link.version}`) : null)
        : null,
      h("td", { "data-label": "State" }, stateBadge(link),
        !withDocument && link.version ? h("div", { class: "muted small" }, `version ${link.version}`) : null),
      h("td", { "data-label": "Expires" }, link.state === "revoked" ? h("span", {}, "Revoked ", timeElement(link.revoked_at)) : timeElement(link.expires_at)),
      h("td", { class: "num link-downloads", "data-label": "Downloads" }, downloadsText(link)),
      h("td", { "data-label": "Password" }, link.protected ? "Protected" : "None"),
      h("td", { class: "link-note", "data-label": "Note" }, link.note || h("span", { class: "muted" }, "—")),
      h("td", { class: "row-actions" },
        link.state === "revoked"
          ? null
          : h("button", { type: "button", class: "small", "aria-label": `Extend link to ${linkLabel(link)}`, onclick: () => extendDialog(link, onChange) }, "Extend"),
        link.state === "revoked"
          ? null
          : h("button", { type: "button", class: "small danger", "aria-label": `Revoke link to ${linkLabel(link)}`, onclick: (e) => busy(e.currentTarget, () => revoke(link, onChange)) }, "Revoke"))))));
}

/**
 * The "Public links" section of a document's details. Only the owner (or an editor the owner
 * allows) may see and make links: for anyone else the API says no and the section says why.
 */
export function linksPanel(doc) {
  const titleId = `links-title-${doc.document_id}`;
  const section = h("section", { class: "public-links", "aria-labelledby": titleId });
  const list = h("div", { class: "table-wrap" });
  const create = h("button", { type: "button", onclick: () => createLinkDialog(doc, load) }, "Create public link…");
  clear(section,
    h("div", { class: "section-head" }, h("h3", { id: titleId }, "Public links"), create),
    list);

  async function load() {
    let links;
    try {
      links = await apiAll(`documents/${encodeURIComponent(doc.document_id)}/links`, { limit: 100, maxPages: 5 });
    } catch (error) {
      create.hidden = error.status === 403 || error.status === 404;
      clear(list, h("p", { class: "muted" }, error.status === 403 || error.status === 404 ? "Only the owner can make public links to this document." : error.message));
      return;
    }
    clear(list, links.length
      ? linksTable(links, { withDocument: false, onChange: load, caption: "Links to this document" })
      : h("p", { class: "muted" }, "No public links. A link lets anyone download this file without an account."));
  }
  load();
  return section;
}

/** The "Links" page: every link the person made or owns, newest first, a page at a time. */
export async function linksView(main, params, ctx) {
  // `#/links?limit=N` sets the page size (for tests of the pages); the API allows 1..200.
  const limit = Math.min(200, Math.max(1, Number(params.get("limit")) || PAGE_SIZE));
  const cursors = [null];
  let page = 0;
  const list = h("div", { class: "table-wrap" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Public links")),
    h("p", { class: "muted" }, "Links anyone can open without an account. Make one from a document's details in Files."),
    list, pager);

  async function load() {
    const result = await api("GET", "links", { query: { limit, cursor: cursors[page] } });
    if (!ctx.isCurrent()) return;
    cursors[page + 1] = result.next_cursor;
    if (!result.items.length && page === 0) {
      clear(list, h("p", { class: "empty" }, "You have no public links yet."));
    } else {
      clear(list, linksTable(result.items, { withDocument: true, onChange: () => busy(null, load), caption: "Your public links" }));
    }
    clear(pager,
      h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; busy(null, load); } }, "← Previous"),
      h("span", { class: "muted" }, `Page ${page + 1}`),
      h("button", { type: "button", disabled: !result.next_cursor, onclick: () => { page += 1; busy(null, load); } }, "Next →"));
    pager.hidden = page === 0 && !result.next_cursor;
  }
  await load();
}
