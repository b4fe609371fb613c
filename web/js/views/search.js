// Search: by name, tags, dates and type for everyone; inside documents (full text) for Premium.
import { api, ApiError } from "../api.js";
import { go, session } from "../nav.js";
import { announce, busy, clear, field, formatBytes, h, parseTags, snippetNode, timeElement } from "../ui.js";
import { download, openDocument } from "./files.js";
import { confirmPlanChange } from "./account.js";

function isoStart(date) {
  return date ? new Date(`${date}T00:00:00`).toISOString() : undefined;
}

function isoNextDay(date) {
  if (!date) return undefined;
  const next = new Date(`${date}T00:00:00`);
  next.setDate(next.getDate() + 1);
  return next.toISOString();
}

export async function searchView(main, params, ctx) {
  const q = params.get("q") || "";
  const tags = params.get("tags") || "";
  const from = params.get("from") || "";
  const to = params.get("to") || "";
  const type = params.get("type") || "";

  const qInput = h("input", { type: "search", name: "q", value: q, maxlength: "255", autocomplete: "off" });
  const tagsInput = h("input", { name: "tags", value: tags });
  const fromInput = h("input", { type: "date", name: "from", value: from });
  const toInput = h("input", { type: "date", name: "to", value: to });
  const typeSelect = h("select", { name: "type" },
    [["", "Any type"], ["application/pdf", "PDF"], ["text/plain", "Text"], ["image/png", "PNG image"], ["image/jpeg", "JPEG image"],
      ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word document"],
      ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel spreadsheet"],
      ["video/mp4", "MP4 video"]].map(([value, label]) => h("option", { value, selected: value === type }, label)));
  const submit = h("button", { type: "submit", class: "primary" }, "Search");
  const form = h("form", { class: "search-form", role: "search", "aria-label": "Documents" },
    h("div", { class: "search-row" }, field("Search for", qInput, "Part of a name; Premium also searches the words inside your documents."), submit),
    h("details", { open: Boolean(tags || from || to || type) },
      h("summary", {}, "More filters"),
      h("div", { class: "filters" },
        field("Tags", tagsInput, "Comma-separated: documents with all of them."),
        field("Created from", fromInput),
        field("Created until", toInput),
        field("Type", typeSelect))));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go("search", { q: qInput.value.trim(), tags: tagsInput.value.trim(), from: fromInput.value, to: toInput.value, type: typeSelect.value });
  });

  const names = h("section", { class: "results", "aria-labelledby": "names-title" });
  const text = h("section", { class: "results", "aria-labelledby": "text-title" });
  clear(main, h("div", { class: "view-head" }, h("h1", {}, "Search")), form, names, text);
  if (!q && !tags && !from && !to && !type) {
    qInput.focus();
    return;
  }

  const tagList = parseTags(tags);
  const metadata = api("GET", "documents/search", {
    query: {
      name: q || undefined, name_match: q.length >= 3 ? "substring" : "prefix", tags: tagList.join(",") || undefined,
      created_from: isoStart(from), created_to: isoNextDay(to), content_type: type || undefined, limit: 50,
    },
  });
  // A single word is also looked for as a tag (the header's box searches names and tags together).
  const asTag = q && !tagList.length && !/[,\s]/.test(q)
    ? api("GET", "documents/search", { query: { tags: q, created_from: isoStart(from), created_to: isoNextDay(to), content_type: type || undefined, limit: 50 } }).catch(() => null)
    : null;
  const fulltext = q
    ? api("GET", "search", { query: { q, tag: tagList, content_type: type || undefined, created_from: from || undefined, created_to: to || undefined } })
    : null;
  // How much of a Premium account is searchable now (counted from the catalog): said under the
  // hits when some documents are still being indexed or could not be read.
  const indexStatus = q && session.account?.plan === "premium" ? api("GET", "search/status").catch(() => null) : null;

  clear(names, h("h2", { id: "names-title" }, "Names, tags and dates"), h("p", { class: "loading" }, "Searching…"));
  try {
    const found = await metadata;
    const tagged = await asTag;
    if (!ctx.isCurrent()) return;
    const seen = new Set(found.items.map((doc) => doc.document_id));
    for (const doc of tagged?.items || []) if (!seen.has(doc.document_id)) found.items.push(doc);
    clear(names, h("h2", { id: "names-title" }, "Names, tags and dates"),
      found.items.length
        ? h("ul", { class: "hits" }, found.items.map((doc) => h("li", { class: "hit", dataset: { documentId: doc.document_id } },
          h("button", { type: "button", class: "link hit-name", onclick: () => openDocument(doc.document_id) }, doc.name),
          h("div", { class: "muted small" }, `${doc.path} · ${formatBytes(doc.size)} · `, timeElement(doc.modified_at),
            doc.tags.length ? ` · ${doc.tags.join(", ")}` : ""),
          h("button", { type: "button", class: "small", "aria-label": `Download ${doc.name}`, onclick: (e) => busy(e.currentTarget, () => download(doc)) }, "Download"))))
        : h("p", { class: "empty" }, "No document names or tags match."),
      found.next_cursor ? h("p", { class: "muted" }, "Showing the first matches; narrow the search to see others.") : null);
  } catch (error) {
    clear(names, h("h2", { id: "names-title" }, "Names, tags and dates"), h("p", { class: "error-text" }, error.message));
  }

  if (!fulltext) {
    text.hidden = true;
    return;
  }
  clear(text, h("h2", { id: "text-title" }, "Inside documents"), h("p", { class: "loading" }, "Searching…"));
  try {
    const found = await fulltext;
    if (!ctx.isCurrent()) return;
    clear(text, h("h2", { id: "text-title" }, "Inside documents"),
      found.items.length
        ? h("ul", { class: "hits" }, found.items.map((hit) => h("li", { class: "hit", dataset: { documentId: hit.document_id } },
          h("button", { type: "button", class: "link hit-name", onclick: () => openDocument(hit.document_id) }, hit.name),
          h("div", { class: "muted small" }, `${hit.path} · version ${hit.version} · `, timeElement(hit.created_at)),
          h("button", { type: "button", class: "small", "aria-label": `Download ${hit.name}`, onclick: (e) => busy(e.currentTarget, () => download(hit)) }, "Download"),
          hit.snippet ? h("p", { class: "snippet-line" }, snippetNode(hit.snippet)) : null)))
        : h("p", { class: "empty" }, "No document contains these words."),
      found.found > found.items.length ? h("p", { class: "muted" }, `${found.found} documents match; showing the best ${found.items.length}.`) : null,
      indexNote(await indexStatus));
  } catch (error) {
    if (!ctx.isCurrent()) return;
    // The upsell is for Free accounts only; a Premium account refused (its plan change is still
    // being applied) is told to try again.
    if (error instanceof ApiError && error.status === 403 && session.account?.plan !== "premium") clear(text, h("h2", { id: "text-title" }, "Inside documents"), upgradeHint(error.message));
    else if (error instanceof ApiError && error.status === 403) clear(text, h("h2", { id: "text-title" }, "Inside documents"), h("p", { class: "muted" }, "Searching inside documents is being switched on for your account; search again in a moment."));
    else clear(text, h("h2", { id: "text-title" }, "Inside documents"), h("p", { class: "error-text" }, error.message));
  }
}

/** What the full-text status means for these results, or null when every document is searchable. */
export function indexNote(status) {
  if (!status) return null;
  const lines = [];
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  if (status.state === "enabling") {
    lines.push("Your documents are being prepared for searching inside them: results may be incomplete for a while.");
  } else if (status.pending > 0) {
    lines.push(`${status.indexed} of ${plural(status.total, "document is", "documents are")} searchable so far; `
      + `${status.pending} still being indexed, so results may be incomplete.`);
  }
  if (status.failed > 0) {
    lines.push([`The text of ${plural(status.failed, "document", "documents")} could not be read: `
      + `${status.failed === 1 ? "it is" : "they are"} found by name, tags and dates only. `,
    h("a", { href: "#/files?all=1" }, "See which (marked “Text not searchable”)")]);
  }
  return lines.length ? h("div", { class: "index-note muted small", role: "note" }, lines.map((line) => h("p", {}, line))) : null;
}

/** Free accounts: say what Premium adds (the 403 names the plan) and offer the upgrade. */
export function upgradeHint(message) {
  const button = h("button", { type: "button", class: "primary" }, "Upgrade to Premium");
  button.addEventListener("click", () => busy(button, async () => {
    if (!(await confirmPlanChange("premium"))) return;
    await api("PUT", "account/plan", { json: { plan: "premium" } });
    await session.signedIn();
    announce("Your account is on Premium now. Your documents are being indexed; search again in a moment.");
    go("search", Object.fromEntries(new URLSearchParams(location.hash.split("?")[1] || "")));
  }));
  return h("div", { class: "upgrade", role: "note" },
    h("p", {}, h("strong", {}, "Searching the words inside your documents is a Premium feature. ")),
    h("p", { class: "muted" }, message),
    h("p", {}, "Premium adds full-text search of PDFs, Office files, text and scanned images, and 20 GB of storage."),
    button);
}
