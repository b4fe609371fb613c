// The viewer (issue 37): a document full size (every page of a PDF, drawn by PDF.js; an image or
// any other type through its large preview), zoom, ←/→ through the documents of the folder shown,
// and a side panel with tabs: details, sharing, versions and activity. Each tab loads on its own
// and shows its own error inside itself (never behind the dialog); only what this person may do
// is offered.
import { api, apiAll } from "../api.js";
import { busy, clear, formatBytes, h, openDialog, timeElement } from "../ui.js";
import { actionWords } from "./activity.js";
import { previewPane } from "./previews.js";

const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
const TABS = [["details", "Details"], ["sharing", "Sharing"], ["versions", "Versions"], ["activity", "Activity"]];

let pdfjs = null;
/** PDF.js (vendored, web/vendor/pdfjs), loaded the first time a PDF is viewed. */
async function loadPdfjs() {
  if (!pdfjs) {
    const lib = await import("../../vendor/pdfjs/pdf.min.js");
    lib.GlobalWorkerOptions.workerSrc = new URL("../../vendor/pdfjs/pdf.worker.min.js", import.meta.url).href;
    pdfjs = lib;
  }
  return pdfjs;
}

const TEXT_LIMIT = 512 * 1024; // a text file up to this size is shown as text, not as its preview image

const isText = (doc) => /^text\/|json|xml|yaml|markdown|csv|javascript/.test(String(doc.content_type || "")) && doc.size <= TEXT_LIMIT;

export const isPdf = (doc) => String(doc.content_type || "").startsWith("application/pdf") || /\.pdf$/i.test(doc.name || "");

/**
 * Open `docs[index]` in the viewer; ←/→ (and the Previous/Next file buttons) go through `docs`.
 * `role(doc)`: "owner", "editor" or "viewer"; `download(doc, version)`; `sharedBy(doc)`: who shared
 * it, in words; `details(doc)`: the dialog that renames, moves and tags (offered to the owner).
 */
export function openViewer(docs, index, { role = () => "owner", download, sharedBy = () => "", details } = {}) {
  let at = index;
  let zoom = 1;
  let page = 1;
  let pages = 0;
  let pdf = null;
  let shown = 0; // which file's answers are wanted: an older one's, arriving late, are dropped
  let tab = "details";
  const uid = `viewer-${Math.random().toString(36).slice(2)}`;
  const { dialog, body, close } = openDialog(docs[at].name, { onClose: () => { shown += 1; pdf?.destroy(); } });
  dialog.classList.add("viewer");
  const heading = dialog.querySelector("h2");

  const button = (label, onclick, extra = {}) => h("button", { type: "button", class: "small", onclick, ...extra }, label);
  const position = h("span", { class: "viewer-position" });
  const previousFile = button("Previous file", () => show(at - 1));
  const nextFile = button("Next file", () => show(at + 1));
  const zoomLabel = h("output", { class: "viewer-zoom", "aria-live": "polite" }, "100%");
  const zoomOut = button("Zoom out", () => setZoom(-1));
  const zoomIn = button("Zoom in", () => setZoom(1));
  const fit = button("Fit", () => { zoom = 1; applyZoom(); });
  const pageLabel = h("output", { class: "viewer-page", "aria-live": "polite" });
  const previousPage = button("Previous page", () => turn(-1));
  const nextPage = button("Next page", () => turn(1));
  const pageBar = h("div", { class: "viewer-pages", role: "group", "aria-label": "Pages" }, previousPage, pageLabel, nextPage);
  const stage = h("div", { class: "viewer-stage", role: "region", "aria-label": "Preview", tabindex: "0" });

  const tabs = TABS.map(([key, label]) => h("button", {
    type: "button", role: "tab", id: `${uid}-tab-${key}`, "aria-controls": `${uid}-panel`, dataset: { tab: key },
    "aria-selected": "false", tabindex: "-1", onclick: () => showTab(key),
  }, label));
  const tablist = h("div", { class: "viewer-tabs", role: "tablist", "aria-label": "About this file" }, tabs);
  const panel = h("div", { class: "viewer-panel", role: "tabpanel", id: `${uid}-panel`, tabindex: "0" });
  tablist.addEventListener("keydown", (event) => {
    const i = tabs.indexOf(document.activeElement);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined || i < 0) return;
    event.preventDefault();
    event.stopPropagation();
    const next = tabs[(to + tabs.length) % tabs.length];
    next.focus();
    showTab(next.dataset.tab);
  });

  body.append(h("div", { class: "viewer-layout" },
    h("div", { class: "viewer-main" },
      h("div", { class: "viewer-bar" },
        h("div", { class: "viewer-files", role: "group", "aria-label": "Files" }, previousFile, position, nextFile),
        h("div", { class: "viewer-zooms", role: "group", "aria-label": "Zoom" }, zoomOut, zoomLabel, zoomIn, fit),
        pageBar),
      stage),
    h("aside", { class: "viewer-side", "aria-label": "About this file" }, tablist, panel)));

  // ←/→ go through the folder, PageUp/PageDown through a PDF's pages, + and - zoom; not while
  // typing, nor on the tabs (their arrows move between tabs).
  dialog.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, [role=tablist]") || event.altKey || event.ctrlKey || event.metaKey) return;
    const act = {
      ArrowLeft: () => show(at - 1), ArrowRight: () => show(at + 1),
      PageUp: () => turn(-1), PageDown: () => turn(1), "+": () => setZoom(1), "=": () => setZoom(1), "-": () => setZoom(-1),
    }[event.key];
    if (!act) return;
    event.preventDefault();
    act();
  });

  function setZoom(step) {
    const i = ZOOMS.indexOf(zoom);
    zoom = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, (i < 0 ? 2 : i) + step))];
    applyZoom();
  }

  function applyZoom() {
    zoomLabel.textContent = `${Math.round(zoom * 100)}%`;
    zoomOut.disabled = zoom === ZOOMS[0];
    zoomIn.disabled = zoom === ZOOMS[ZOOMS.length - 1];
    if (pdf) {
      renderPage();
      return;
    }
    const text = stage.querySelector("pre.viewer-text");
    if (text) text.style.fontSize = `${zoom * 0.9}rem`;
    const img = stage.querySelector("img");
    // 100% fits the width; more makes the stage scroll.
    if (img) img.style.width = zoom === 1 ? "" : `${zoom * 100}%`;
    stage.classList.toggle("zoomed", zoom > 1);
  }

  function turn(step) {
    if (!pdf || page + step < 1 || page + step > pages) return;
    page += step;
    renderPage();
  }

  async function renderPage() {
    const mine = shown;
    const wanted = page;
    const source = await pdf.getPage(wanted);
    const natural = source.getViewport({ scale: 1 });
    const fitScale = Math.min(2, Math.max(0.2, (stage.clientWidth - 24) / natural.width));
    const scale = fitScale * zoom;
    const ratio = window.devicePixelRatio || 1;
    const viewport = source.getViewport({ scale: scale * ratio });
    const canvas = h("canvas", {
      class: "pdf-page", width: String(Math.floor(viewport.width)), height: String(Math.floor(viewport.height)),
      role: "img", "aria-label": `Page ${wanted} of ${pages} of ${docs[at].name}`, dataset: { page: String(wanted) },
    });
    canvas.style.width = `${Math.floor(natural.width * scale)}px`;
    await source.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
    if (mine !== shown || wanted !== page) return;
    clear(stage, canvas);
    pageLabel.textContent = `Page ${wanted} of ${pages}`;
    previousPage.disabled = wanted === 1;
    nextPage.disabled = wanted === pages;
  }

  async function show(i) {
    if (i < 0 || i >= docs.length) return;
    at = i;
    const doc = docs[at];
    const mine = ++shown;
    heading.textContent = doc.name;
    position.textContent = `${at + 1} of ${docs.length}`;
    previousFile.disabled = at === 0;
    nextFile.disabled = at === docs.length - 1;
    pdf?.destroy();
    pdf = null;
    page = 1;
    pages = 0;
    zoom = 1;
    pageBar.hidden = true;
    zoomLabel.textContent = "100%";
    showTab(tab, { focus: false });
    if (isPdf(doc)) {
      clear(stage, h("p", { class: "loading" }, "Opening the PDF…"));
      try {
        const lib = await loadPdfjs();
        const link = await api("GET", `documents/${encodeURIComponent(doc.document_id)}/download`);
        const loaded = await lib.getDocument({ url: link.url, isEvalSupported: false }).promise;
        if (mine !== shown) {
          loaded.destroy();
          return;
        }
        pdf = loaded;
        pages = pdf.numPages;
        pageBar.hidden = false;
        applyZoom();
        return;
      } catch (error) {
        if (mine !== shown) return;
        clear(stage,
          h("p", { class: "error-text", role: "alert" }, `The pages of this PDF could not be shown here: ${error.message}. Its preview is below; Download opens it whole.`),
          previewPane(doc, { isOpen: () => dialog.isConnected && mine === shown }));
        return;
      }
    }
    if (isText(doc)) {
      clear(stage, h("p", { class: "loading" }, "Opening…"));
      try {
        const link = await api("GET", `documents/${encodeURIComponent(doc.document_id)}/download`);
        const answer = await fetch(link.url);
        if (!answer.ok) throw new Error(`storage answered ${answer.status}`);
        const words = await answer.text();
        if (mine !== shown) return;
        clear(stage, h("pre", { class: "viewer-text" }, words));
        applyZoom();
        return;
      } catch {
        if (mine !== shown) return; // else its preview, below
      }
    }
    clear(stage, h("div", { class: "viewer-image" }, previewPane(doc, { isOpen: () => dialog.isConnected && mine === shown })));
    applyZoom();
  }

  // ---- the side panel

  function showTab(key, { focus = false } = {}) {
    tab = key;
    for (const t of tabs) {
      const on = t.dataset.tab === key;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      if (on && focus) t.focus();
    }
    panel.setAttribute("aria-labelledby", `${uid}-tab-${key}`);
    const doc = docs[at];
    const mine = shown;
    clear(panel, h("p", { class: "loading" }, "Loading…"));
    const fill = { details: detailsTab, sharing: sharingTab, versions: versionsTab, activity: activityTab }[key];
    Promise.resolve(fill(doc)).then((nodes) => {
      if (mine === shown && tab === key) clear(panel, nodes);
    }).catch((error) => {
      if (mine !== shown || tab !== key) return;
      // The error stays in the panel, where the person is looking.
      clear(panel,
        h("div", { class: "panel-error", role: "alert" }, h("p", {}, `Could not load the ${key}: ${error.message}`)),
        button("Try again", () => showTab(key, { focus: false })));
    });
  }

  async function detailsTab(doc) {
    const fresh = await api("GET", `documents/${encodeURIComponent(doc.document_id)}`);
    docs[at] = { ...doc, ...fresh };
    const who = role(fresh);
    return [
      h("dl", { class: "facts" },
        h("dt", {}, "Folder"), h("dd", {}, fresh.path),
        h("dt", {}, "Type"), h("dd", {}, fresh.content_type),
        h("dt", {}, "Size"), h("dd", {}, formatBytes(fresh.size)),
        h("dt", {}, "Version"), h("dd", {}, String(fresh.version)),
        h("dt", {}, "Modified"), h("dd", {}, timeElement(fresh.modified_at)),
        h("dt", {}, "Tags"), h("dd", {}, fresh.tags?.length ? fresh.tags.join(", ") : "—")),
      who === "owner" ? null : h("p", { class: "muted shared-by" }, sharedBy(fresh)),
      h("div", { class: "actions" },
        download ? h("button", { type: "button", class: "primary", onclick: (e) => busy(e.currentTarget, () => download(fresh)) }, "Download") : null,
        who === "owner" && details ? h("button", { type: "button", onclick: () => { close(); details(fresh); } }, "Rename, move, tags…") : null),
    ];
  }

  async function sharingTab(doc) {
    if (role(doc) !== "owner") return h("p", { class: "muted shared-by" }, sharedBy(doc));
    const shares = await apiAll(`documents/${encodeURIComponent(doc.document_id)}/shares`);
    if (!shares.length) return h("p", { class: "muted" }, "Only you can see this document.");
    return h("ul", { class: "share-list" }, shares.map((share) => h("li", {},
      h("strong", {}, share.username || `account ${share.grantee_id.slice(0, 8)}`),
      ` · ${share.permission === "edit" ? "can edit" : "can view"}`)));
  }

  async function versionsTab(doc) {
    const list = await apiAll(`documents/${encodeURIComponent(doc.document_id)}/versions`);
    return h("ul", { class: "viewer-versions" }, list.map((v) => h("li", { dataset: { version: String(v.version) } },
      h("span", {}, h("strong", {}, `v${v.version}`), " · ", timeElement(v.created_at), ` · ${formatBytes(v.size)}`),
      download ? h("button", {
        type: "button", class: "small", "aria-label": `Download version ${v.version}`,
        onclick: (e) => busy(e.currentTarget, () => download(doc, v.version)),
      }, "Download") : null)));
  }

  async function activityTab(doc) {
    const page = await api("GET", "account/activity", { query: { limit: 200 } });
    const mine = page.items.filter((item) => item.document_id === doc.document_id);
    if (!mine.length) return h("p", { class: "muted" }, "Nothing recorded for this file lately.");
    return h("ul", { class: "viewer-activity" }, mine.map((item) => h("li", {},
      h("span", {}, actionWords(item.action)), " ", h("span", { class: "muted" }, timeElement(item.at)))));
  }

  show(at);
  stage.focus({ preventScroll: true });
  return { close };
}
