// Previews: thumbnails for the grid view, the large preview in a document's details (the pane),
// a placeholder while a preview is being made, and a typed icon when there is none (failed, or a
// type without a renderer). Images load straight from S3 through short-lived signed URLs that the
// API hands out for up to 50 versions at once (`POST /v1/documents/previews`; one version:
// `GET /v1/documents/{id}/versions/{n}/preview?size=small|large`).
import { api } from "../api.js";
import { h } from "../ui.js";

const VIEW_KEY = "docstore.filesView";
const MAX_IN_FLIGHT = 6; // signed-URL requests at once (each for up to 50 versions)
const URL_MARGIN_MS = 30_000; // a URL this close to expiring is asked for again

// ---------------------------------------------------------------- list or grid, per user

function viewChoices() {
  try {
    return JSON.parse(localStorage.getItem(VIEW_KEY) || "{}");
  } catch {
    return {};
  }
}

/** The files view the person chose last ("list" or "grid"), kept per account in this browser. */
export function viewMode(accountId) {
  return viewChoices()[accountId || "_"] === "grid" ? "grid" : "list";
}

export function rememberViewMode(accountId, mode) {
  localStorage.setItem(VIEW_KEY, JSON.stringify({ ...viewChoices(), [accountId || "_"]: mode }));
}

/** Two toggle buttons, List and Grid; `onChange(mode)` runs when the person picks the other. */
export function viewToggle(mode, onChange) {
  const make = (value, label) => h("button", {
    type: "button", class: "small view-choice", "aria-pressed": String(mode === value), dataset: { view: value },
    onclick: () => { if (mode !== value) onChange(value); },
  }, label);
  return h("div", { class: "view-toggle", role: "group", "aria-label": "Show files as" }, make("list", "List"), make("grid", "Grid"));
}

// ---------------------------------------------------------------- typed icons

const FAMILIES = [
  ["pdf", (t, ext) => t === "application/pdf" || ext === "pdf"],
  ["image", (t) => t.startsWith("image/")],
  ["video", (t) => t.startsWith("video/")],
  ["audio", (t) => t.startsWith("audio/")],
  ["sheet", (t, ext) => /spreadsheet|excel|csv/.test(t) || ["xls", "xlsx", "ods", "csv", "numbers"].includes(ext)],
  ["slides", (t, ext) => /presentation|powerpoint/.test(t) || ["ppt", "pptx", "odp", "key"].includes(ext)],
  ["doc", (t, ext) => /msword|wordprocessing|opendocument\.text|rtf/.test(t) || ["doc", "docx", "odt", "rtf", "pages"].includes(ext)],
  ["archive", (t, ext) => /zip|tar|gzip|x-7z|rar|bzip|xz|compressed/.test(t) || ["zip", "tar", "gz", "tgz", "7z", "rar", "bz2", "xz"].includes(ext)],
  ["text", (t, ext) => t.startsWith("text/") || /json|xml|markdown|yaml|javascript/.test(t) || ["txt", "md", "json", "xml", "yaml", "yml", "log"].includes(ext)],
];

const LABELS = { pdf: "PDF", doc: "DOC", sheet: "XLS", slides: "PPT", image: "IMG", video: "VID", audio: "AUD", archive: "ZIP", text: "TXT", other: "FILE" };

/** The family of a document's type, for its icon: pdf, doc, sheet, slides, image, video, audio, archive, text or other. */
export function typeFamily(contentType, name = "") {
  const type = String(contentType || "").toLowerCase().split(";")[0].trim();
  const ext = String(name).toLowerCase().includes(".") ? String(name).toLowerCase().split(".").pop() : "";
  for (const [family, matches] of FAMILIES) if (matches(type, ext)) return family;
  return "other";
}

/** An inline SVG icon for a type family (a page with a folded corner and the family's label). */
export function typeIcon(family, { label } = {}) {
  return h("svg", {
    class: `type-icon type-${family}`, viewBox: "0 0 48 60", role: "img", "aria-label": label || `${LABELS[family] || "FILE"} file`,
    dataset: { family },
  },
  h("path", { class: "page", d: "M4 2h28l12 12v42a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z" }),
  h("path", { class: "fold", d: "M32 2v12h12" }),
  h("rect", { class: "band", x: "2", y: "34", width: "42", height: "14", rx: "1" }),
  h("text", { class: "label", x: "23", y: "44.5", "text-anchor": "middle" }, LABELS[family] || "FILE"));
}

// ---------------------------------------------------------------- signed URLs, on demand

const urls = new Map(); // "<id>:<version>:<size>" -> {url, expires}
const queue = [];
let inFlight = 0;

function pump() {
  while (inFlight < MAX_IN_FLIGHT && queue.length) {
    const job = queue.shift();
    inFlight += 1;
    job().finally(() => { inFlight -= 1; pump(); });
  }
}

/**
 * The signed URL of a version's preview image: `{url, width, height, content_type}`, or null when
 * it has none or is not ready. Cached until shortly before it expires. The frames that ask in the
 * same moment (a page of thumbnails coming into view) are asked for together, up to 50 in one
 * `POST /v1/documents/previews`, at most MAX_IN_FLIGHT such calls at once.
 */
export function previewUrl(doc, size = "small") {
  const key = `${doc.document_id}:${doc.version}:${size}`;
  const cached = urls.get(key);
  if (cached && cached.expires - Date.now() > URL_MARGIN_MS) return Promise.resolve(cached.answer);
  return new Promise((resolve) => {
    const waiting = wanted.get(key);
    if (waiting) waiting.resolvers.push(resolve);
    else wanted.set(key, { key, size, document_id: doc.document_id, version: doc.version, resolvers: [resolve] });
    if (!flushing) { flushing = true; setTimeout(askTogether, 0); }
  });
}

const MAX_BATCH = 50; // the batch route's limit (a page of the file list)
const wanted = new Map(); // key -> {key, size, document_id, version, resolvers}
let flushing = false;

function askTogether() {
  flushing = false;
  const all = [...wanted.values()];
  wanted.clear();
  for (const size of ["small", "large"]) {
    const ofSize = all.filter((job) => job.size === size);
    for (let start = 0; start < ofSize.length; start += MAX_BATCH) {
      const chunk = ofSize.slice(start, start + MAX_BATCH);
      queue.push(async () => {
        let items = [];
        try {
          const asked = chunk.map(({ document_id, version }) => ({ document_id, version }));
          items = (await api("POST", "documents/previews", { json: { size, items: asked } })).items || [];
        } catch {
          items = [];
        }
        chunk.forEach((job, i) => {
          const item = items[i];
          const answer = item && item.state === "ready" ? item : null;
          if (answer) urls.set(job.key, { answer, expires: Date.parse(answer.expires_at) || Date.now() + 60_000 });
          for (const resolve of job.resolvers) resolve(answer);
        });
      });
    }
  }
  pump();
}

// Thumbnails ask for their URL when they come near the screen, not before.
const observer = "IntersectionObserver" in window
  ? new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      entry.target.dispatchEvent(new Event("preview:visible"));
    }
  }, { rootMargin: "200px" })
  : null;

function whenVisible(node, run) {
  if (!observer) { run(); return; }
  node.addEventListener("preview:visible", run, { once: true });
  observer.observe(node);
}

// ---------------------------------------------------------------- what a document shows

function placeholder(size) {
  return h("div", { class: `preview-placeholder preview-${size}`, role: "img", "aria-label": "Preview being made" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    h("span", { class: "small muted", "aria-hidden": "true" }, "Preview being made…"));
}

function iconFor(doc, reason) {
  const family = typeFamily(doc.content_type, doc.name);
  return h("div", { class: "preview-icon", title: reason && reason !== "unsupported type" ? `No preview: ${reason}` : null },
    typeIcon(family, { label: `${doc.name} (${LABELS[family] || "FILE"} file)` }));
}

/**
 * What stands for `doc` at `size`: its image (lazy: the signed URL is asked for when the frame
 * comes near the screen), a placeholder while the preview is being made, or a typed icon.
 */
export function previewFrame(doc, size = "small") {
  const state = doc.preview?.state || "pending";
  const frame = h("div", { class: `preview-frame preview-${size}`, dataset: { previewState: state } });
  if (state === "pending") {
    frame.append(placeholder(size));
    return frame;
  }
  if (state !== "ready") {
    frame.append(iconFor(doc, doc.preview?.reason));
    return frame;
  }
  const img = h("img", { alt: doc.name, loading: "lazy", decoding: "async", class: "preview-image" });
  frame.append(img);
  const load = async () => {
    const answer = await previewUrl(doc, size);
    if (!answer) {
      frame.replaceChildren(iconFor(doc));
      frame.dataset.previewState = "failed";
      return;
    }
    img.width = answer.width;
    img.height = answer.height;
    img.addEventListener("error", () => { frame.replaceChildren(iconFor(doc)); frame.dataset.previewState = "failed"; }, { once: true });
    img.addEventListener("load", () => { frame.dataset.loaded = "true"; }, { once: true });
    img.src = answer.url;
  };
  if (size === "small") whenVisible(frame, load);
  else load();
  return frame;
}

/** `element` hidden from assistive technology: inside a button named by its `aria-label`, a
 * thumbnail's own name ("Preview being made", "d.txt (TXT file)") would make the button's
 * content say something its name does not (axe's label-content-name-mismatch), depending on
 * whether the preview was ready when the grid was drawn. */
function decorative(element) {
  element.setAttribute("aria-hidden", "true");
  return element;
}

/**
 * The grid of a page of documents: a card per document with its thumbnail, name and size.
 * `open(doc)` opens its details (with the large preview); `actions(doc)` gives the card's buttons.
 */
export function gridOf(items, { open, caption, meta, actions, pick }) {
  return h("ul", { class: "doc-grid", "aria-label": caption },
    items.map((doc) => h("li", { class: "doc-card", dataset: { documentId: doc.document_id } },
      pick ? h("div", { class: "card-pick pick" }, pick(doc)) : null,
      h("button", { type: "button", class: "card-open", "aria-label": `Open ${doc.name}`, onclick: () => open(doc) },
        decorative(previewFrame(doc, "small"))),
      h("div", { class: "card-text" },
        h("button", { type: "button", class: "link doc-open card-name", title: doc.name, onclick: () => open(doc) }, doc.name),
        meta ? h("div", { class: "muted small" }, meta(doc)) : null),
      actions ? h("div", { class: "card-actions" }, actions(doc)) : null)));
}

/**
 * The preview pane of a document's details: the large preview (an image; a PDF's first page or a
 * video's poster frame are images too), a placeholder that checks again while it is being made,
 * or the typed icon. `isOpen()` stops the checking once the details are closed.
 */
export function previewPane(doc, { isOpen = () => true } = {}) {
  const pane = h("section", { class: "preview-pane", "aria-label": `Preview of ${doc.name}` });
  let current = doc;
  const show = () => pane.replaceChildren(previewFrame(current, "large"));
  show();
  let delay = 2000;
  const check = async () => {
    if (!isOpen() || !pane.isConnected) return;
    try {
      const fresh = await api("GET", `documents/${encodeURIComponent(current.document_id)}`);
      if (fresh.preview?.state !== "pending" || fresh.version !== current.version) {
        current = fresh;
        show();
        if (fresh.preview?.state !== "pending") return;
      }
    } catch {
      return;
    }
    delay = Math.min(delay * 1.5, 15000);
    setTimeout(check, delay);
  };
  if ((doc.preview?.state || "pending") === "pending") setTimeout(check, delay);
  return pane;
}
