// The document list (folders, sort, pages), a document's details (rename, tags, move, versions),
// uploads by drag and drop or file picker, and the trash.
import { api, apiAll } from "../api.js";
import { go, session } from "../nav.js";
import {
  announce, askClash, busy, clear, confirmDialog, downloadUrl, field, focusLost, folderIcon, focusMain, focusToastAction, formatBytes, h, openDialog,
  parseTags, showError, timeElement,
} from "../ui.js";
import { uploadFile, uploadFiles, setUploadedHandler } from "../uploads.js";
import { linksPanel } from "./links.js";
import { gridOf, previewPane, rememberViewMode, typeFamily, typeIcon, viewMode, viewToggle } from "./previews.js";

const PAGE_SIZE = 50;
const SHARE_NAMES_KEY = "docstore.shareNames";

// Usernames of the accounts this browser shared with, for share lists that only carry ids.
function shareName(share) {
  if (share.username) return share.username;
  try {
    return JSON.parse(localStorage.getItem(SHARE_NAMES_KEY) || "{}")[share.grantee_id] || `account ${share.grantee_id.slice(0, 8)}`;
  } catch {
    return `account ${share.grantee_id.slice(0, 8)}`;
  }
}

function rememberShareName(granteeId, username) {
  let names = {};
  try {
    names = JSON.parse(localStorage.getItem(SHARE_NAMES_KEY) || "{}");
  } catch {
    names = {};
  }
  names[granteeId] = username;
  localStorage.setItem(SHARE_NAMES_KEY, JSON.stringify(names));
}

export function normalisePath(path) {
  const segments = String(path || "/").split("/").filter((s) => s && s !== "." && s !== "..");
  return `/${segments.join("/")}`;
}

/** Sub-folders of `path` (empty ones too), from the server's folders (issue 37). */
async function subfolders(path) {
  try {
    return await apiAll("folders", { query: { path } });
  } catch {
    return []; // folders are a convenience; the listing still shows the documents
  }
}

const DOCUMENT_TYPE = "application/x-docstore-document";

/** Move a document into `folder` (a drag onto a folder row, or the picker). */
async function moveDocument(documentId, name, folder) {
  const done = await withClashChoice((onClash) =>
    api("PATCH", `documents/${encodeURIComponent(documentId)}`, { json: { path: folder, on_clash: onClash } }));
  if (done) announce(`${name} moved to ${folder}.`);
}

/**
 * Run `call(onClash)`; when the server answers that the name is taken there (409 with `choices`),
 * ask Replace / Keep both / Skip, as Dropbox, Drive and Nextcloud do, and run it again with the
 * choice. Resolves to the answer, or null when skipped. `batch` ({size, choice}) keeps an answer
 * given "for every clash" of an action on many.
 */
async function withClashChoice(call, batch = null) {
  try {
    return await call(undefined);
  } catch (error) {
    const clash = error?.body;
    if (error?.status !== 409 || !Array.isArray(clash?.choices)) throw error;
    let choice = batch?.choice;
    if (!choice) {
      const answer = await askClash(clash, { many: (batch?.size || 1) > 1 });
      choice = answer.choice;
      if (answer.forAll && batch) batch.choice = choice;
    }
    if (choice === "skip") return null;
    return call(choice);
  }
}

/**
 * A folder row: open it (its link), drop files on it (they are uploaded into it) or drag a
 * document onto it (it moves there); a menu renames, moves or deletes it.
 */
function folderRow(folder, changed) {
  const row = h("li", { class: "folder-row", dataset: { folderId: folder.folder_id, path: folder.path } },
    h("a", { href: `#/files?path=${encodeURIComponent(folder.path)}`, class: "folder" }, folderIcon(), " ", folder.name),
    h("button", { type: "button", class: "small", "aria-label": `Rename folder ${folder.name}`, onclick: () => renameFolderDialog(folder, changed) }, "Rename"),
    h("button", { type: "button", class: "small", "aria-label": `Move folder ${folder.name}`, onclick: () => moveFolder(folder, changed) }, "Move"),
    h("button", {
      type: "button", class: "small danger", "aria-label": `Delete folder ${folder.name}`,
      onclick: (e) => busy(e.currentTarget, async () => focusToastAction(await trashFolder(folder, changed))),
    }, "Delete"));
  const accepts = (event) => {
    const types = [...(event.dataTransfer?.types || [])];
    return types.includes("Files") || types.includes(DOCUMENT_TYPE);
  };
  row.addEventListener("dragover", (event) => {
    if (!accepts(event)) return;
    event.preventDefault();
    event.stopPropagation(); // the page's own drop zone is the folder shown, not this one
    row.classList.add("over");
  });
  row.addEventListener("dragleave", (event) => { if (!row.contains(event.relatedTarget)) row.classList.remove("over"); });
  row.addEventListener("drop", (event) => {
    if (!accepts(event)) return;
    event.preventDefault();
    event.stopPropagation();
    row.classList.remove("over");
    const moved = event.dataTransfer.getData(DOCUMENT_TYPE);
    if (moved) {
      const { id, name } = JSON.parse(moved);
      busy(null, async () => { await moveDocument(id, name, folder.path); await changed(); });
    } else if (event.dataTransfer.files?.length) {
      uploadFiles(event.dataTransfer.files, { path: folder.path });
    }
  });
  return row;
}

function renameFolderDialog(folder, changed) {
  const { body, close } = openDialog(`Rename ${folder.name}`);
  const name = h("input", { required: true, maxlength: "255", value: folder.name });
  const form = h("form", {}, field("New name", name),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Rename"), h("button", { type: "button", onclick: close }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("button[type=submit]"), async () => {
      const done = await api("PATCH", `folders/${encodeURIComponent(folder.folder_id)}`, { json: { name: name.value.trim() } });
      close();
      announce(`${folder.name} is now called ${done.name}.`);
      await changed();
    });
  });
  body.append(form);
  name.focus();
  name.select();
}

async function moveFolder(folder, changed) {
  const target = await pickFolder(`Move ${folder.name} to…`, folder.parent, folder.path);
  if (target === null) return;
  await busy(null, async () => {
    const done = await withClashChoice((onClash) =>
      api("PATCH", `folders/${encodeURIComponent(folder.folder_id)}`, { json: { parent: target, on_clash: onClash } }));
    if (done) announce(`${folder.name} moved to ${done.parent}.`);
    await changed();
  });
}

async function trashFolder(folder, changed) {
  await api("DELETE", `folders/${encodeURIComponent(folder.folder_id)}`);
  const toast = announce(`${folder.name} and everything in it moved to the trash.`, {
    action: {
      label: "Undo",
      run: () => busy(null, async () => {
        const back = await api("POST", `folders/${encodeURIComponent(folder.folder_id)}/restore`);
        announce(`${back.name} is back, with everything in it.`);
        await changed();
      }),
    },
  });
  changed();
  return toast;
}

/**
 * The folder picker of Move: browse from `start` (up, into a sub-folder) and choose one; resolves
 * to its path, or null when closed. `moving` (a folder's own path) cannot be chosen or entered.
 */
export function pickFolder(title, start = "/", moving = null) {
  return new Promise((resolve) => {
    let chosen = null;
    const { body, close } = openDialog(title, { onClose: () => resolve(chosen) });
    const where = h("p", { class: "picker-where", "aria-live": "polite" });
    const list = h("ul", { class: "picker-list", "aria-label": "Folders here" });
    const up = h("button", { type: "button" }, "↑ Up");
    const here = h("button", { type: "button", class: "primary" }, "Move here");
    let current = start;
    const inside = (path) => moving && (path === moving || path.startsWith(`${moving}/`));
    async function show(path) {
      current = path;
      where.textContent = `In ${path === "/" ? "your top folder" : path}`;
      up.disabled = path === "/";
      here.disabled = Boolean(inside(path));
      const found = (await subfolders(path)).filter((f) => !inside(f.path));
      clear(list, found.length ? found.map((f) => h("li", {},
        h("button", { type: "button", class: "link picker-folder", onclick: () => show(f.path) }, folderIcon(), " ", f.name)))
        : h("li", { class: "muted" }, "No folders inside."));
    }
    up.addEventListener("click", () => show(normalisePath(current.split("/").slice(0, -1).join("/"))));
    here.addEventListener("click", () => { chosen = current; close(); });
    body.append(where, list, h("div", { class: "actions" }, up, here, h("button", { type: "button", onclick: close }, "Cancel")));
    show(start).then(() => here.focus());
  });
}

function breadcrumb(path, view) {
  const segments = path.split("/").filter(Boolean);
  const crumbs = [h("li", {}, h("a", { href: `#/${view}?path=/`, "aria-current": segments.length ? null : "location" }, "All folders"))];
  segments.forEach((segment, index) => {
    const target = `/${segments.slice(0, index + 1).join("/")}`;
    const last = index === segments.length - 1;
    crumbs.push(h("li", {}, h("a", { href: `#/${view}?path=${encodeURIComponent(target)}`, "aria-current": last ? "location" : null }, segment)));
  });
  return h("nav", { class: "breadcrumb", "aria-label": "Folder" }, h("ol", {}, crumbs));
}

function tagList(tags) {
  if (!tags?.length) return h("span", { class: "muted" }, "—");
  return h("ul", { class: "tags", "aria-label": "Tags" }, tags.map((t) => h("li", { class: "tag" }, t)));
}

export async function download(doc, version) {
  const link = await api("GET", `documents/${encodeURIComponent(doc.document_id)}/download`, { query: { version } });
  downloadUrl(link.url);
  announce(`Downloading ${doc.name}${version ? ` (version ${version})` : ""}.`);
}

/**
 * Move `doc` to the trash without asking; the toast offers Undo (it restores from the trash) and is
 * returned. The caller whose control goes away with the row (or the dialog) puts the focus on Undo:
 * Enter then brings the document back, and the focus goes to its name in the list.
 */
async function trash(doc, after) {
  await api("DELETE", `documents/${encodeURIComponent(doc.document_id)}`);
  const toast = announce(`${doc.name} moved to the trash.`, {
    action: {
      label: "Undo",
      run: () => busy(null, async () => {
        await api("POST", `documents/${encodeURIComponent(doc.document_id)}/restore`);
        announce(`${doc.name} is back in ${doc.path}.`);
        await after?.();
        if (!focusLost()) return;
        const row = document.querySelector(`#main [data-document-id="${CSS.escape(doc.document_id)}"]`);
        const name = row?.querySelector(".doc-open") || row?.querySelector("button");
        if (name) name.focus();
        else focusMain();
      }),
    },
  });
  after?.();
  return toast;
}

/**
 * Redraw `container` with `render()` keeping the keyboard focus: when a control of a document's row
 * (or card) had it, the same control of the redrawn row gets it (a reload after a rename, the live
 * feed, a closed dialog's refresh); when that row is gone, the first document's name does.
 */
function keepingFocus(container, render) {
  const active = document.activeElement;
  let key = null;
  if (active && active !== document.body && container.contains(active)) {
    const row = active.closest("[data-document-id]");
    const controls = row ? [...row.querySelectorAll("button, a[href], input, select")] : [];
    key = { id: row?.dataset.documentId, index: controls.indexOf(active) };
  }
  render();
  if (!key || !focusLost()) return;
  const row = key.id ? container.querySelector(`[data-document-id="${CSS.escape(key.id)}"]`) : null;
  const target = row ? row.querySelectorAll("button, a[href], input, select")[key.index] : container.querySelector(".doc-open");
  if (target) target.focus();
  else focusMain();
}

// ---------------------------------------------------------------- menus, many at once

/** "1 document", "3 documents". */
function documentsCount(n) {
  return n === 1 ? "1 document" : `${n} documents`;
}

function dotsIcon() {
  return h("svg", { class: "dots-icon", viewBox: "0 0 20 20", width: "18", height: "18", "aria-hidden": "true", focusable: "false" },
    h("circle", { cx: "4", cy: "10", r: "2" }), h("circle", { cx: "10", cy: "10", r: "2" }), h("circle", { cx: "16", cy: "10", r: "2" }));
}

let openMenu = null; // {menu, button, afterwards} of the row menu open now

function closeMenu(focusButton = false) {
  if (!openMenu) return;
  const { menu, button, afterwards } = openMenu;
  openMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
  if (focusButton && button.isConnected) button.focus();
  afterwards?.();
}

/** While a menu of `container` is open its list is not redrawn under it: `redraw` runs when it closes. */
function menuOpenIn(container, redraw) {
  if (!openMenu || !container.contains(openMenu.button)) return false;
  openMenu.afterwards = redraw;
  return true;
}
document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.menu.contains(event.target) && !openMenu.button.contains(event.target)) closeMenu();
});
window.addEventListener("hashchange", () => closeMenu());

/**
 * A row's "More actions" button and its menu (`items`: [label, run, class]); arrow keys, Home and
 * End move through it, Escape or Tab close it and give the focus back to the button, as a menu
 * button does (WAI-ARIA APG). The menu is fixed on the screen, so a scrolling table does not cut it.
 */
function menuButton(name, items) {
  const button = h("button", {
    type: "button", class: "small more", title: "More actions",
    "aria-label": `More actions for ${name}`, "aria-haspopup": "menu", "aria-expanded": "false",
  }, dotsIcon());
  button.addEventListener("click", () => {
    if (openMenu?.button === button) {
      closeMenu(true);
      return;
    }
    closeMenu();
    const entries = items.filter(Boolean).map(([label, run, cls]) => h("button", {
      type: "button", role: "menuitem", tabindex: "-1", class: cls || null,
      onclick: () => { closeMenu(true); run(button); },
    }, label));
    const menu = h("div", { class: "row-menu", role: "menu", "aria-label": `Actions for ${name}` }, entries);
    // On the page's body (fixed on the screen): a scrolling table does not cut it.
    document.body.append(menu);
    const at = button.getBoundingClientRect();
    menu.style.top = `${Math.max(8, Math.min(at.bottom + 4, innerHeight - menu.offsetHeight - 8))}px`;
    menu.style.left = `${Math.max(8, Math.min(at.right - menu.offsetWidth, innerWidth - menu.offsetWidth - 8))}px`;
    button.setAttribute("aria-expanded", "true");
    openMenu = { menu, button };
    entries[0]?.focus();
    menu.addEventListener("keydown", (event) => {
      const index = entries.indexOf(document.activeElement);
      const to = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: entries.length - 1 }[event.key];
      if (to !== undefined) {
        event.preventDefault();
        entries[(to + entries.length) % entries.length].focus();
      } else if (event.key === "Escape" || event.key === "Tab") {
        event.preventDefault();
        event.stopPropagation();
        closeMenu(true);
      }
    });
  });
  return button;
}

/** Add tags to every document of `docs` (their own tags are kept); resolves true when saved. */
function addTagsDialog(docs) {
  return new Promise((resolve) => {
    let saved = false;
    const { body, close } = openDialog(`Add tags to ${documentsCount(docs.length)}`, { onClose: () => resolve(saved) });
    const input = h("input", { required: true, maxlength: "500" });
    const submit = h("button", { type: "submit", class: "primary" }, "Add tags");
    const form = h("form", {}, field("Tags to add", input, "Separate tags with commas. Tags already there stay."),
      h("div", { class: "actions" }, submit, h("button", { type: "button", onclick: close }, "Cancel")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const adding = parseTags(input.value);
      if (!adding.length) return;
      busy(submit, async () => {
        for (const doc of docs) {
          const tags = [...new Set([...(doc.tags || []), ...adding])];
          await api("PATCH", `documents/${encodeURIComponent(doc.document_id)}`, { json: { tags } });
        }
        saved = true;
        announce(`Tagged ${documentsCount(docs.length)} with ${adding.join(", ")}.`);
        close();
      });
    });
    body.append(form);
    input.focus();
  });
}

// ---------------------------------------------------------------- the list

export async function filesView(main, params, ctx) {
  const path = normalisePath(params.get("path") || "/");
  const flat = params.get("all") === "1";
  const sort = ["modified", "created", "name", "size"].includes(params.get("sort")) ? params.get("sort") : "modified";
  const order = ["asc", "desc"].includes(params.get("order")) ? params.get("order") : (sort === "name" ? "asc" : "desc");
  const query = { sort, order, path: flat ? undefined : path, limit: PAGE_SIZE };
  const cursors = [null]; // the cursor of each page seen so far: Previous goes back one
  let page = 0;
  // List or grid (thumbnails), as this person chose last in this browser.
  const accountId = session.account?.account_id;
  let mode = viewMode(accountId);

  const here = (extra = {}) => ({ path, all: flat ? "1" : undefined, sort, order, ...extra });

  // The documents of the page shown: the viewer's ←/→ go through them.
  let pageItems = [];
  // The viewer's module is loaded when first used: the Files page loads no more for it.
  const view = async (doc) => (await import("./viewer.js")).openViewer(pageItems.length ? [...pageItems] : [doc], Math.max(0, pageItems.findIndex((d) => d.document_id === doc.document_id)), {
    download, role: (d) => roleOf(d), sharedBy: (d) => sharedByText(d), details: (d) => detailsDialog(d, reloadAll),
  });

  // Documents ticked on this page (id -> document): the bar above the list acts on all of them.
  const selected = new Map();
  const bulkCount = h("span", { class: "bulk-count", "aria-live": "polite" });
  const bulkAction = (label, run, cls) => h("button", { type: "button", class: `small ${cls || ""}`.trim(), onclick: (e) => run(e.currentTarget) }, label);
  const bulkBar = h("section", { class: "bulk-bar", "aria-label": "Selected documents", hidden: true },
    bulkCount,
    h("div", { class: "actions" },
      bulkAction("Move selected", bulkMove),
      bulkAction("Tag selected", bulkTag),
      bulkAction("Download selected", bulkDownload),
      bulkAction("Delete selected", bulkDelete, "danger"),
      bulkAction("Clear selection", () => { selected.clear(); syncSelection(); table.querySelector(".pick-all")?.focus(); })));

  // The box last ticked or unticked by a click: Shift+click sets every box between it and the
  // clicked one alike (as in Gmail, Drive and Nextcloud), in the list and the grid.
  let anchor = null;
  function pickBox(doc, items) {
    return h("input", {
      type: "checkbox", class: "pick-box", "aria-label": `Select ${doc.name}`, dataset: { id: doc.document_id },
      onclick: (e) => {
        const on = e.currentTarget.checked;
        const at = items.findIndex((d) => d.document_id === doc.document_id);
        const from = e.shiftKey && anchor !== null && anchor < items.length ? anchor : at;
        for (let i = Math.min(from, at); i <= Math.max(from, at); i++) {
          if (on) selected.set(items[i].document_id, items[i]);
          else selected.delete(items[i].document_id);
        }
        anchor = at;
        syncSelection();
      },
    });
  }
  const pickAll = (items, attrs) => h("input", {
    type: "checkbox", class: "pick-all", ...attrs,
    onchange: (e) => {
      for (const doc of items) {
        if (e.currentTarget.checked) selected.set(doc.document_id, doc);
        else selected.delete(doc.document_id);
      }
      syncSelection();
    },
  });

  /** The checkboxes, the "all" box and the bar as the selection says. */
  function syncSelection() {
    const boxes = [...table.querySelectorAll("input.pick-box")];
    for (const box of boxes) box.checked = selected.has(box.dataset.id);
    for (const all of table.querySelectorAll("input.pick-all")) {
      all.checked = boxes.length > 0 && boxes.every((b) => b.checked);
      all.indeterminate = !all.checked && boxes.some((b) => b.checked);
    }
    bulkBar.hidden = selected.size === 0;
    bulkCount.textContent = selected.size ? `${documentsCount(selected.size)} selected` : "";
  }

  async function bulkMove(button) {
    const docs = [...selected.values()];
    const target = await pickFolder(`Move ${documentsCount(docs.length)} to…`, path);
    if (target === null) return;
    await busy(button, async () => {
      const batch = { size: docs.length, choice: null };
      let moved = 0;
      for (const doc of docs) {
        const done = await withClashChoice((onClash) =>
          api("PATCH", `documents/${encodeURIComponent(doc.document_id)}`, { json: { path: target, on_clash: onClash } }), batch);
        selected.delete(doc.document_id);
        if (done) moved += 1;
      }
      announce(`${documentsCount(moved)} moved to ${target === "/" ? "your top folder" : target}.`);
      await reloadAll();
    });
  }

  async function bulkTag() {
    if (await addTagsDialog([...selected.values()])) {
      shown = null;
      await load();
    }
  }

  async function bulkDownload(button) {
    await busy(button, async () => {
      for (const doc of selected.values()) await download(doc);
    });
  }

  async function bulkDelete(button) {
    await busy(button, async () => {
      const docs = [...selected.values()];
      const results = await Promise.allSettled(docs.map((doc) => api("DELETE", `documents/${encodeURIComponent(doc.document_id)}`)));
      const gone = docs.filter((_, i) => results[i].status === "fulfilled");
      for (const doc of gone) selected.delete(doc.document_id);
      const toast = announce(`${documentsCount(gone.length)} moved to the trash.`, {
        action: {
          label: "Undo",
          run: () => busy(null, async () => {
            await Promise.all(gone.map((doc) => api("POST", `documents/${encodeURIComponent(doc.document_id)}/restore`)));
            announce(`${documentsCount(gone.length)} back where they were.`);
            await reloadAll();
          }),
        },
      });
      await reloadAll();
      focusToastAction(toast);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    });
  }

  async function moveOne(doc) {
    const target = await pickFolder(`Move ${doc.name} to…`, doc.path);
    if (target === null) return;
    await busy(null, async () => {
      await moveDocument(doc.document_id, doc.name, target);
      await reloadAll();
    });
  }

  /** Rename in place: the name becomes a box; Enter saves, Escape puts the name back. */
  function renameInPlace(doc) {
    const cell = table.querySelector(`[data-document-id="${CSS.escape(doc.document_id)}"] td.name`);
    if (!cell) return;
    const before = [...cell.childNodes];
    const input = h("input", { class: "rename-inline", value: doc.name, maxlength: "255", "aria-label": `New name for ${doc.name}` });
    const save = h("button", { type: "submit", class: "small primary" }, "Save");
    const form = h("form", { class: "rename-form" }, input, save, h("button", { type: "button", class: "small", onclick: () => cancel() }, "Cancel"));
    let open = true;
    const focusName = () => table.querySelector(`[data-document-id="${CSS.escape(doc.document_id)}"] .doc-open`)?.focus();
    const cancel = () => {
      if (!open) return;
      open = false;
      cell.replaceChildren(...before);
      focusName();
      if (shown === null) load();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      cancel();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name || name === doc.name) {
        cancel();
        return;
      }
      if (/[/\\]/.test(name)) {
        showError("A name must not contain / or \\.");
        return;
      }
      busy(save, async () => {
        const done = await withClashChoice((onClash) =>
          api("PATCH", `documents/${encodeURIComponent(doc.document_id)}`, { json: { name, on_clash: onClash } }));
        open = false;
        if (done) before.find((n) => n.classList?.contains("doc-open"))?.replaceChildren(done.name);
        cell.replaceChildren(...before);
        announce(done ? `${doc.name} is now called ${done.name}.` : `${doc.name} keeps its name.`);
        shown = null;
        await load();
        focusName();
      });
    });
    cell.replaceChildren(form);
    input.focus();
    const dot = doc.name.lastIndexOf(".");
    input.setSelectionRange(0, dot > 0 ? dot : doc.name.length);
  }
  setUploadedHandler(() => { if (ctx.isCurrent()) load(); });

  // Upload: drag and drop anywhere on the page, or the file picker.
  const picker = h("input", { type: "file", multiple: true, id: "file-picker", class: "visually-hidden" });
  picker.addEventListener("change", () => {
    uploadFiles(picker.files, { path });
    picker.value = "";
  });
  const dropzone = h("section", { class: "dropzone", "aria-labelledby": "drop-title" },
    h("p", { id: "drop-title" }, h("strong", {}, "Drop files here"), h("span", { class: "drop-words" }, ` to upload them to ${path === "/" ? "your top folder" : path}, or `)),
    picker,
    h("label", { for: "file-picker", class: "button primary" }, "Choose files…"));
  const onDrag = (event) => {
    if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
    event.preventDefault();
    dropzone.classList.add("over");
  };
  // #main is shared by every page: these listeners are this render's, and go when the person
  // leaves it (ctx.signal), so one drop uploads once, and only here, to the folder shown.
  const own = { signal: ctx.signal };
  main.addEventListener("dragover", onDrag, own);
  main.addEventListener("dragleave", (event) => { if (!main.contains(event.relatedTarget)) dropzone.classList.remove("over"); }, own);
  main.addEventListener("drop", (event) => {
    if (!event.dataTransfer?.files?.length || !ctx.isCurrent()) return;
    event.preventDefault();
    dropzone.classList.remove("over");
    uploadFiles(event.dataTransfer.files, { path });
  }, own);

  const sortSelect = h("select", { id: "sort" },
    [["modified", "Last modified"], ["created", "Created"], ["name", "Name"], ["size", "Size"]]
      .map(([value, label]) => h("option", { value, selected: value === sort }, label)));
  const orderSelect = h("select", { id: "order" },
    [["asc", sort === "name" ? "A to Z" : sort === "size" ? "Smallest first" : "Oldest first"],
      ["desc", sort === "name" ? "Z to A" : sort === "size" ? "Largest first" : "Newest first"]]
      .map(([value, label]) => h("option", { value, selected: value === order }, label)));
  sortSelect.addEventListener("change", () => go("files", here({ sort: sortSelect.value, order: undefined })));
  orderSelect.addEventListener("change", () => go("files", here({ order: orderSelect.value })));
  const scope = h("select", { id: "scope" },
    h("option", { value: "folder", selected: !flat }, "This folder"),
    h("option", { value: "all", selected: flat }, "All files, every folder"));
  scope.addEventListener("change", () => go("files", here({ all: scope.value === "all" ? "1" : undefined })));

  const newFolder = h("button", { type: "button", onclick: () => newFolderDialog(path, () => reloadAll()) }, "New folder");
  const folders = h("ul", { class: "folders", "aria-label": "Folders" });
  const table = h("div", { class: "table-wrap" });
  const toggleSlot = h("div", { class: "toggle-slot" });
  const showToggle = () => clear(toggleSlot, viewToggle(mode, (chosen) => {
    mode = chosen;
    rememberViewMode(accountId, mode);
    shown = null;
    showToggle();
    load();
  }));
  showToggle();
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });

  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, flat ? "All files" : path === "/" ? "Files" : path.split("/").pop()),
      h("div", { class: "head-actions" }, toggleSlot, newFolder)),
    flat ? null : breadcrumb(path, "files"),
    dropzone,
    // On a phone sorting is folded away (the list first); on a wider screen it is always open.
    h("details", { class: "sort-box", open: !matchMedia("(max-width: 700px)").matches || flat || sort !== "modified" || params.has("order") },
      h("summary", {}, "Sort and show"),
      h("div", { class: "toolbar" }, field("Show", scope), field("Sort by", sortSelect), field("Order", orderSelect))),
    flat ? null : folders,
    bulkBar,
    table,
    pager);

  // Folders are found among the documents: looked for again when the list changes (a move into a
  // new folder shows it at once, not after a reload).
  let foldersShown = null;
  function showFolders() {
    if (flat) return;
    subfolders(path).then((found) => {
      if (!ctx.isCurrent() || JSON.stringify(found) === foldersShown) return;
      if (folders.contains(document.activeElement) && foldersShown !== null) {
        // Keep the focus on the same folder's control after a redraw.
        const id = document.activeElement.closest("[data-folder-id]")?.dataset.folderId;
        queueMicrotask(() => folders.querySelector(`[data-folder-id="${CSS.escape(id || "")}"] a`)?.focus());
      }
      foldersShown = JSON.stringify(found);
      clear(folders, found.map((folder) => folderRow(folder, reloadAll)));
    });
  }
  showFolders();
  /** The list and the folders again (after a change made here or elsewhere). */
  function reloadAll() {
    showFolders();
    return load();
  }

  // What the table shows now: a reload that finds the same (often the feed echoing this page's own
  // change) leaves the rows alone, so a button under the pointer or the focus stays where it is.
  let shown = null;
  let recheck = null;
  let recheckDelay = 3000;
  async function load() {
    const result = await api("GET", "documents", { query: { ...query, cursor: cursors[page] } });
    if (!ctx.isCurrent()) return;
    cursors[page + 1] = result.next_cursor;
    // Previews being made and text being indexed do not show in the change feed: while the page
    // shows one (a pending preview in the grid, an "Indexing…" badge in either), look again.
    clearTimeout(recheck);
    // From 3 s, slower while it lasts (up to 30 s): a stopped indexer is not asked every 3 s forever.
    const waiting = (doc) => doc.full_text?.state === "pending" || (mode === "grid" && doc.preview?.state === "pending");
    if (result.items.some(waiting)) {
      recheck = setTimeout(() => { if (ctx.isCurrent()) load().catch(() => {}); }, recheckDelay);
      recheckDelay = Math.min(recheckDelay * 1.5, 30000);
    } else {
      recheckDelay = 3000;
    }
    // The list does not show preview states: one arriving must not redraw its rows.
    const drawn = mode === "grid" ? result.items : result.items.map(({ preview, ...shownInList }) => shownInList);
    pageItems = result.items;
    const fingerprint = JSON.stringify([mode, page, drawn, result.next_cursor]);
    if (fingerprint === shown) return;
    // A name being edited in place, or a row's open menu, is not redrawn under the person: the
    // list is drawn when they finish.
    if (table.querySelector(".rename-form") || menuOpenIn(table, () => { shown = null; load(); })) {
      shown = null;
      return;
    }
    shown = fingerprint;
    // The selection keeps what is still on this page, with its fresh details.
    const onPage = new Map(result.items.map((doc) => [doc.document_id, doc]));
    for (const id of [...selected.keys()]) {
      if (onPage.has(id)) selected.set(id, onPage.get(id));
      else selected.delete(id);
    }
    keepingFocus(main, () => {
      if (mode === "grid") renderGrid(result.items);
      else renderTable(result.items);
      renderPager(result.next_cursor);
    });
    syncSelection();
  }

  function renderGrid(items) {
    if (!items.length && page === 0) {
      clear(table, h("p", { class: "empty" }, flat ? "No documents yet. Upload one above." : "This folder is empty. Upload files above."));
      return;
    }
    anchor = null;
    const all = pickAll(items, { id: "pick-all-grid" });
    clear(table, h("div", { class: "pick-line grid-pick" }, all, h("label", { for: all.id }, "Select all")), gridOf(items, {
      caption: `Documents${flat ? "" : ` in ${path}`}, sorted by ${sortSelect.selectedOptions[0].textContent}`,
      open: (doc) => detailsDialog(doc, reloadAll),
      pick: (doc) => pickBox(doc, items),
      meta: (doc) => [`${formatBytes(doc.size)}${flat ? ` · ${doc.path}` : ""}`, fullTextBadge(doc.full_text)],
      actions: (doc) => [
        h("button", { type: "button", class: "small", "aria-label": `Download ${doc.name}`, onclick: (e) => busy(e.currentTarget, () => download(doc)) }, "Download"),
        h("button", { type: "button", class: "small danger", "aria-label": `Delete ${doc.name}`, onclick: (e) => busy(e.currentTarget, async () => focusToastAction(await trash(doc, load))) }, "Delete"),
      ],
    }));
  }

  function renderTable(items) {
    if (!items.length && page === 0) {
      clear(table, h("p", { class: "empty" }, flat ? "No documents yet. Upload one above." : "This folder is empty. Upload files above."));
      return;
    }
    anchor = null;
    // On a phone the table's head is not shown (each row is a card): "Select all" stands above the cards.
    const phoneAll = pickAll(items, { id: "pick-all-cards" });
    clear(table, h("div", { class: "pick-line" }, phoneAll, h("label", { for: phoneAll.id }, "Select all")), h("table", { class: "documents" },
      h("caption", { class: "visually-hidden" }, `Documents${flat ? "" : ` in ${path}`}, sorted by ${sortSelect.selectedOptions[0].textContent}`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "pick" }, pickAll(items, { "aria-label": "Select every document on this page" })),
        h("th", { scope: "col" }, "Name"),
        flat ? h("th", { scope: "col" }, "Folder") : null,
        h("th", { scope: "col" }, "Tags"),
        h("th", { scope: "col", class: "num" }, "Size"),
        h("th", { scope: "col" }, "Modified"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, items.map((doc) => h("tr", {
        dataset: { documentId: doc.document_id }, draggable: "true",
        ondragstart: (event) => {
          event.dataTransfer.setData(DOCUMENT_TYPE, JSON.stringify({ id: doc.document_id, name: doc.name }));
          event.dataTransfer.effectAllowed = "move";
        },
      },
        h("td", { class: "pick" }, pickBox(doc, items)),
        h("td", { class: "name", "data-label": "Name" },
          h("span", { class: "row-icon", "aria-hidden": "true" }, typeIcon(typeFamily(doc.content_type, doc.name))),
          h("button", {
            type: "button", class: "link doc-open", onclick: () => detailsDialog(doc, reloadAll),
            onkeydown: (e) => { if (e.key === "F2") { e.preventDefault(); renameInPlace(doc); } },
          }, doc.name),
          doc.title && doc.title !== doc.name ? h("div", { class: "muted small" }, doc.title) : null,
          fullTextBadge(doc.full_text)),
        flat ? h("td", { "data-label": "Folder" }, h("a", { href: `#/files?path=${encodeURIComponent(doc.path)}` }, doc.path)) : null,
        h("td", { "data-label": "Tags" }, tagList(doc.tags)),
        h("td", { class: "num", "data-label": "Size" }, formatBytes(doc.size)),
        h("td", { "data-label": "Modified" }, timeElement(doc.modified_at)),
        h("td", { class: "row-actions" },
          h("button", { type: "button", class: "small", "aria-label": `Download ${doc.name}`, onclick: (e) => busy(e.currentTarget, () => download(doc)) }, "Download"),
          h("button", { type: "button", class: "small danger", "aria-label": `Delete ${doc.name}`, onclick: (e) => busy(e.currentTarget, async () => focusToastAction(await trash(doc, load))) }, "Delete"),
          menuButton(doc.name, [
            ["View", () => busy(null, () => view(doc))],
            ["Details", () => detailsDialog(doc, reloadAll)],
            ["Rename", () => renameInPlace(doc)],
            ["Move…", () => moveOne(doc)],
            ["Add tags…", async () => { if (await addTagsDialog([doc])) { shown = null; await load(); } }],
            ["Download", () => busy(null, () => download(doc))],
            ["Delete", () => busy(null, async () => focusToastAction(await trash(doc, load))), "danger"],
          ])))))));
  }

  function renderPager(nextCursor) {
    const previous = h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "← Previous");
    const next = h("button", { type: "button", disabled: !nextCursor, onclick: () => { page += 1; load(); } }, "Next →");
    clear(pager, previous, h("span", { class: "muted" }, `Page ${page + 1}`), next);
    pager.hidden = page === 0 && !nextCursor;
  }

  await load();
  followChanges(ctx, () => reloadAll());
  // A link from a mail ("#/files?open=<document id>") opens that document's details.
  if (params.get("open")) openDocument(params.get("open"), load).catch(showError);
}

const CHANGES_WAIT_SECONDS = 20;

/**
 * Follow the account's change feed (`GET /v1/changes`, long-poll) while the view is current and
 * call `onChange` (once per batch) when documents change elsewhere: another tab, device or the
 * API. Starts from the feed's current end; stops when the person leaves the page (the poll in
 * flight ends within its wait). Errors back off and try again; a 401 has already logged out.
 */
async function followChanges(ctx, onChange) {
  let cursor = null;
  let backoff = 1000;
  // Leaving the page ends the poll in flight at once: a browser has few connections per host,
  // and polls left waiting would hold them.
  const controller = new AbortController();
  const leave = () => {
    if (ctx.isCurrent()) return;
    controller.abort();
    window.removeEventListener("hashchange", leave);
  };
  window.addEventListener("hashchange", leave);
  const signal = controller.signal;
  try {
    // Catch up to now without waiting: only what changes from here on redraws the list.
    for (;;) {
      const page = await api("GET", "changes", { query: { cursor, limit: 1000 }, signal });
      cursor = page.next_cursor;
      if (page.items.length < 1000 || !ctx.isCurrent()) break;
    }
  } catch {
    window.removeEventListener("hashchange", leave);
    return; // no feed (e.g. an older server): the list still works, it just does not follow
  }
  while (ctx.isCurrent()) {
    try {
      // Low priority: the held request is a background feed, not part of the page's load (a
      // browser, and Lighthouse, would otherwise count the page as loading for as long as it waits).
      const page = await api("GET", "changes", {
        query: { cursor, wait: CHANGES_WAIT_SECONDS, limit: 200 }, signal, priority: "low",
      });
      cursor = page.next_cursor;
      backoff = 1000;
      if (page.items.length && ctx.isCurrent()) onChange(page.items);
    } catch (error) {
      if (error.status === 401 || !ctx.isCurrent()) break;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30000);
    }
  }
  window.removeEventListener("hashchange", leave);
}

function newFolderDialog(path, changed) {
  const { body, close } = openDialog("New folder");
  const name = h("input", { required: true, maxlength: "255" });
  const form = h("form", {}, field("Folder name", name, `It is made inside ${path}.`),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create"), h("button", { type: "button", onclick: close }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const clean = name.value.trim();
    if (!clean || /[/\\]/.test(clean) || clean === "." || clean === "..") {
      showError("A folder name must not be empty or contain / or \\.");
      return;
    }
    busy(form.querySelector("button[type=submit]"), async () => {
      const made = await api("POST", "folders", { json: { parent: path, name: clean } });
      close();
      announce(`Folder ${made.name} made in ${path === "/" ? "your top folder" : path}.`);
      await changed?.();
    });
  });
  body.append(form);
  name.focus();
}

// ---------------------------------------------------------------- one document

/** Open a document's details by id (from search results). */
export async function openDocument(documentId, refresh = () => {}, sharedAs = null) {
  const doc = await api("GET", `documents/${encodeURIComponent(documentId)}`);
  detailsDialog(doc, refresh, sharedAs);
}

/**
 * What the caller is to `doc`: "owner", "editor" or "viewer". The document's answer says it
 * (`role`, or `permission` for a shared one) where the API gives it; the Shared page's listing
 * (`sharedAs`: its `permission` and `owner_id`) says it for the documents shared with the caller.
 * Only the owner renames, moves, re-tags, deletes and shares; an editor also uploads new versions.
 */
export function roleOf(doc, sharedAs = null) {
  const said = doc.role || doc.permission || sharedAs?.role || sharedAs?.permission;
  if (said === "viewer" || said === "view") return "viewer";
  if (said === "editor" || said === "edit") return "editor";
  return "owner";
}

/**
 * Suggestions for the share dialog's username box (GET /people, issue 37): a native datalist
 * (keyboard, screen readers and phones know it), filled 250 ms after the last key; a line under
 * the box says when the person named is in another region (sharing would be refused) before the
 * person presses Share. The API suggests only people the caller already shares with, the exact
 * name, and the one person whose verified address is exactly what was typed (by username: the
 * line offers to put it in the box), and limits lookups (README of metadata: "Finding a person").
 * Returns the nodes, and `usernameFor(value)`: the username to share with for what the box holds
 * (an address is looked up, and refused in words when no account verified it).
 */
function peopleSuggestions(input) {
  const list = h("datalist", { id: `people-${Math.random().toString(36).slice(2)}` });
  const note = h("p", { class: "hint people-note", "aria-live": "polite" });
  input.setAttribute("list", list.id);
  const holders = new Map(); // an address typed -> the username of the account that verified it
  const nobody = (address) => `No DocStore account has verified the address ${address}. Check it, or send a public link instead.`;
  const showHolder = (address, person) => {
    // Nobody, said once the address looks whole (not at every pause while it is typed).
    if (!person) { note.replaceChildren(/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address) ? nobody(address) : ""); return; }
    const use = h("button", { type: "button", class: "small" }, `Use ${person.username}`);
    use.addEventListener("click", () => { input.value = person.username; note.replaceChildren(); input.focus(); });
    if (!person.shareable) { note.replaceChildren(`${address} is ${person.username} on DocStore: ${person.note}`); return; }
    note.replaceChildren(`${address} is ${person.username} on DocStore. `, use);
  };
  let timer = null;
  let asked = "";
  let failed = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { list.replaceChildren(); note.textContent = ""; return; }
    timer = setTimeout(async () => {
      if (q === asked) return;
      asked = q;
      let found;
      try {
        found = (await api("GET", "people", { query: { q } })).people;
      } catch (error) {
        // Suggestions are a help: a failed lookup leaves the box as it is, and is asked again a
        // moment later (twice at most; never after a 429, which asks to wait a minute).
        asked = "";
        failed += 1;
        if (error.status !== 429 && failed <= 2) {
          setTimeout(() => { if (input.value.trim() === q) input.dispatchEvent(new Event("input")); }, 1000 * failed);
        }
        return;
      }
      failed = 0;
      if (q.includes("@")) holders.set(q.toLowerCase(), found[0]?.username || null);
      if (input.value.trim() !== q) return;
      if (q.includes("@")) { list.replaceChildren(); showHolder(q, found[0]); return; }
      list.replaceChildren(...found.map((p) => h("option", { value: p.username }, p.shareable ? (p.known ? "shared with before" : "") : p.note)));
      const exact = found.find((p) => p.username === q.toLowerCase());
      note.textContent = exact && !exact.shareable ? `${exact.username}: ${exact.note}` : "";
    }, 250);
  });
  async function usernameFor(value) {
    if (!value.includes("@")) return value;
    if (!holders.has(value.toLowerCase())) {
      holders.set(value.toLowerCase(), (await api("GET", "people", { query: { q: value } })).people[0]?.username || null);
    }
    const username = holders.get(value.toLowerCase());
    if (!username) throw new Error(nobody(value));
    return username;
  }
  return { nodes: [list, note], usernameFor };
}

/** Who shared `doc`, in words, as far as the API names them. */
function sharedByText(doc, sharedAs) {
  const who = doc.owner_username || doc.shared_by?.username || sharedAs?.owner_username || sharedAs?.shared_by?.username;
  return who ? `Shared with you by ${who}.` : "Shared with you by its owner.";
}

/** A small badge for a document whose text is not searchable (yet): failed or pending. While one
 * shows "Indexing…", the list looks again by itself (the outcome is not in the change feed). */
function fullTextBadge(fullText) {
  if (!fullText || fullText.state === "indexed" || fullText.state === "not_indexed") return null;
  const failed = fullText.state === "failed";
  const words = fullText.detail || (failed ? "Its words could not be read." : "Its words will be searchable in a moment.");
  return h("span", { class: `badge fulltext-${fullText.state}`, title: failed ? `${words} ${fullText.advice || ""}`.trim() : words },
    failed ? "Text not searchable" : "Indexing…");
}

/** The full-text line of a document's details: what happened in people's words, what the person
 * can do, and the indexer's precise reason (for support) in small print. */
function fullTextLine(fullText) {
  if (!fullText) return "—";
  if (fullText.state === "failed") {
    return h("span", { class: "fulltext-failed-line" },
      `${fullText.detail || "Its words could not be read."} ${fullText.advice || ""}`.trim(),
      fullText.reason ? h("span", { class: "muted small fulltext-reason" }, ` Technical detail: ${fullText.reason}.`) : null);
  }
  if (fullText.state === "pending") return fullText.detail || "Being indexed: its words will be searchable in a moment.";
  if (fullText.state === "not_indexed") {
    return h("span", {}, `${fullText.detail || "Not searched inside."} ${fullText.advice || ""}`.trim(), " ",
      h("a", { href: "#/usage", class: "upgrade-link", onclick: (e) => e.currentTarget.closest("dialog")?.close() }, "Upgrade to Premium"));
  }
  return fullText.detail || "Its words are searchable.";
}

function detailsDialog(doc, refresh, sharedAs = null) {
  let changed = false;
  let role = roleOf(doc, sharedAs);
  const { body, close } = openDialog(doc.name, {
    onClose: () => { if (changed) refresh(); },
    returnFocus: () => document.querySelector(`#main [data-document-id="${CSS.escape(doc.document_id)}"] .doc-open`),
  });
  const facts = h("dl", { class: "facts" });
  const versions = h("div", { class: "versions" });
  const showFacts = (d) => clear(facts,
    h("dt", {}, "Folder"), h("dd", {}, d.path),
    h("dt", {}, "Type"), h("dd", {}, d.content_type),
    h("dt", {}, "Size"), h("dd", {}, formatBytes(d.size)),
    h("dt", {}, "Version"), h("dd", {}, String(d.version)),
    h("dt", {}, "Created"), h("dd", {}, timeElement(d.created_at)),
    h("dt", {}, "Modified"), h("dd", {}, timeElement(d.modified_at)),
    h("dt", {}, "Tags"), h("dd", {}, tagList(d.tags)),
    h("dt", {}, "Full text"), h("dd", { class: "fulltext" }, fullTextLine(d.full_text)));
  showFacts(doc);
  let pane = previewPane(doc, { isOpen: () => body.isConnected });

  const update = async (button, patch, message) => busy(button, async () => {
    doc = await api("PATCH", `documents/${encodeURIComponent(doc.document_id)}`, { json: patch });
    changed = true;
    showFacts(doc);
    body.closest("dialog").querySelector("h2").textContent = doc.name;
    announce(message);
  });

  const nameInput = h("input", { value: doc.name, required: true, maxlength: "255" });
  const renameButton = h("button", { type: "submit" }, "Rename");
  const renameForm = h("form", { class: "inline" }, field("Name", nameInput), renameButton);
  renameForm.addEventListener("submit", (e) => { e.preventDefault(); update(renameButton, { name: nameInput.value.trim() }, `Renamed to ${nameInput.value.trim()}.`); });

  const tagsInput = h("input", { value: doc.tags.join(", ") });
  const tagsButton = h("button", { type: "submit" }, "Save tags");
  const tagsForm = h("form", { class: "inline" }, field("Tags", tagsInput, "Separate tags with commas."), tagsButton);
  tagsForm.addEventListener("submit", (e) => { e.preventDefault(); update(tagsButton, { tags: parseTags(tagsInput.value) }, "Tags saved."); });

  const pathInput = h("input", { name: "path", value: doc.path, required: true });
  const moveButton = h("button", { type: "submit" }, "Move");
  const chooseButton = h("button", {
    type: "button",
    onclick: async () => {
      const target = await pickFolder(`Move ${doc.name} to…`, doc.path);
      if (target === null) return;
      pathInput.value = target;
      update(moveButton, { path: target }, `Moved to ${target}.`);
    },
  }, "Choose folder…");
  const moveForm = h("form", { class: "inline" }, field("Folder", pathInput, "For example /work/reports."), moveButton, chooseButton);
  moveForm.addEventListener("submit", (e) => { e.preventDefault(); update(moveButton, { path: normalisePath(pathInput.value) }, `Moved to ${normalisePath(pathInput.value)}.`); });

  const newVersion = h("input", { type: "file", id: `nv-${doc.document_id}`, class: "visually-hidden" });
  newVersion.addEventListener("change", () => {
    const file = newVersion.files[0];
    if (!file) return;
    changed = true;
    uploadFile(file, { documentId: doc.document_id, baseVersion: doc.version, path: doc.path }).then(loadVersions);
  });

  async function loadVersions() {
    try {
      const [fresh, list] = await Promise.all([
        api("GET", `documents/${encodeURIComponent(doc.document_id)}`),
        apiAll(`documents/${encodeURIComponent(doc.document_id)}/versions`),
      ]);
      const isNewVersion = fresh.version !== doc.version;
      doc = fresh;
      showFacts(doc);
      if (isNewVersion) {
        const next = previewPane(doc, { isOpen: () => body.isConnected });
        pane.replaceWith(next);
        pane = next;
      }
      renderVersions(list);
    } catch (error) {
      clear(versions, h("p", { class: "error-text" }, `Could not load the versions: ${error.message}`));
    }
  }

  function renderVersions(list) {
    clear(versions, h("table", { class: "version-table" },
      h("caption", {}, "Version history"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "Saved"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, list.map((v) => h("tr", { dataset: { version: String(v.version) } },
        h("td", { "data-label": "Version" }, `v${v.version}`, v.version === doc.version ? h("span", { class: "badge" }, "current") : null,
          v.restored_from ? h("div", { class: "muted small" }, `restored from v${v.restored_from}`) : null),
        h("td", { "data-label": "Saved" }, timeElement(v.created_at)),
        h("td", { class: "num", "data-label": "Size" }, formatBytes(v.size)),
        h("td", { class: "row-actions" },
          h("button", { type: "button", class: "small", "aria-label": `Download version ${v.version}`, onclick: (e) => busy(e.currentTarget, () => download(doc, v.version)) }, "Download"),
          v.version === doc.version ? null : h("button", {
            type: "button", class: "small", "aria-label": `Restore version ${v.version}`,
            onclick: (e) => busy(e.currentTarget, async () => {
              await api("POST", `documents/${encodeURIComponent(doc.document_id)}/versions/${v.version}/restore`);
              changed = true;
              announce(`Version ${v.version} is current again.`);
              await loadVersions();
            }),
          }, "Restore")))))));
  }

  const sharing = h("section", { class: "sharing", "aria-labelledby": `share-title-${doc.document_id}` });
  const followButton = h("button", { type: "button", "aria-pressed": "false" }, "Follow changes");
  let following = false;
  const showFollow = () => {
    followButton.textContent = following ? "Following ✓" : "Follow changes";
    followButton.setAttribute("aria-pressed", String(following));
  };
  followButton.addEventListener("click", () => busy(followButton, async () => {
    await api(following ? "DELETE" : "PUT", `documents/${encodeURIComponent(doc.document_id)}/follow`);
    following = !following;
    showFollow();
    announce(following ? `You will get a mail when someone else changes ${doc.name}.` : `You no longer follow ${doc.name}.`);
  }));
  apiAll("account/follows")
    .then((follows) => { following = follows.some((f) => f.document_id === doc.document_id); showFollow(); })
    .catch(() => { followButton.hidden = true; });

  // After Share or Stop sharing the section is redrawn: the focus goes back to the "Share with" box.
  async function loadShares({ focus = false } = {}) {
    const title = h("h3", { id: `share-title-${doc.document_id}` }, "Sharing");
    let shares;
    try {
      shares = await apiAll(`documents/${encodeURIComponent(doc.document_id)}/shares`);
    } catch (error) {
      // Only the owner sees who a document is shared with: anyone else is not the owner.
      if (error.status === 403 || error.status === 404) {
        if (role === "owner") {
          role = "viewer";
          showOwnerActions();
        }
        clear(sharing, title, h("p", { class: "muted", id: `shared-by-${doc.document_id}` }, sharedByText(doc, sharedAs)));
      } else {
        clear(sharing, title, h("p", { class: "error-text" }, error.message));
      }
      return;
    }
    const who = h("input", { name: "share-username", required: true, maxlength: "254", autocapitalize: "none", autocomplete: "off", spellcheck: "false" });
    const permission = h("select", { name: "share-permission" },
      h("option", { value: "view" }, "Can view"), h("option", { value: "edit" }, "Can edit (upload new versions)"));
    const shareButton = h("button", { type: "submit" }, "Share");
    const people = peopleSuggestions(who);
    const form = h("form", { class: "share-form" },
      field("Share with (username or e-mail)", who, "Suggestions: people you already share with, the exact username, or the whole e-mail address a person verified."),
      ...people.nodes, field("Permission", permission), shareButton);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(shareButton, async () => {
        const username = await people.usernameFor(who.value.trim());
        const share = await api("POST", `documents/${encodeURIComponent(doc.document_id)}/shares`, { json: { username, permission: permission.value } });
        rememberShareName(share.grantee_id, share.username || username);
        announce(`${doc.name} shared with ${username}.`);
        await loadShares({ focus: true });
      });
    });
    clear(sharing, title,
      shares.length
        ? h("ul", { class: "share-list" }, shares.map((share) => h("li", {},
          h("strong", {}, shareName(share)),
          permissionInPlace(share),
          h("button", {
            type: "button", class: "small", "aria-label": `Stop sharing with ${shareName(share)}`,
            onclick: (e) => busy(e.currentTarget, async () => {
              await api("DELETE", `documents/${encodeURIComponent(doc.document_id)}/shares/${encodeURIComponent(share.grantee_id)}`);
              announce(`No longer shared with ${shareName(share)}.`);
              await loadShares({ focus: true });
            }),
          }, "Stop sharing"))))
        : h("p", { class: "muted" }, "Only you can see this document."),
      form);
    if (focus && focusLost()) who.focus();
  }
  // The owner changes view/edit in place: the same share, its permission changed (making an
  // editor view-only ends the links they made, the API says so in the README).
  function permissionInPlace(share) {
    const name = shareName(share);
    const select = h("select", { class: "small", "aria-label": `Permission of ${name}`, disabled: !share.username },
      h("option", { value: "view", selected: share.permission === "view" }, "Can view"),
      h("option", { value: "edit", selected: share.permission === "edit" }, "Can edit"));
    select.addEventListener("change", () => busy(select, async () => {
      try {
        await api("POST", `documents/${encodeURIComponent(doc.document_id)}/shares`, { json: { username: share.username, permission: select.value } });
      } catch (error) {
        select.value = share.permission;
        throw error;
      }
      share.permission = select.value;
      announce(`${name} ${select.value === "edit" ? "can now edit" : "can now only view"} ${doc.name}.`);
    }));
    return select;
  }
  if (role === "owner") loadShares();
  else clear(sharing, h("h3", { id: `share-title-${doc.document_id}` }, "Sharing"),
    h("p", { class: "muted", id: `shared-by-${doc.document_id}` }, sharedByText(doc, sharedAs)));

  // Controls this person may not use are not shown (they would only fail when pressed).
  const newVersionLabel = h("label", { for: newVersion.id, class: "button" }, "Upload new version…");
  const deleteButton = h("button", { type: "button", class: "danger", onclick: (e) => busy(e.currentTarget, async () => {
    // The list is refreshed at once (and after an Undo); the dialog closes and Undo takes the focus.
    const toast = await trash(doc, refresh);
    close();
    focusToastAction(toast);
  }) }, "Delete");
  const edit = h("section", { class: "edit", "aria-label": "Edit details" }, renameForm, tagsForm, moveForm);
  function showOwnerActions() {
    edit.hidden = role !== "owner";
    deleteButton.hidden = role !== "owner";
    newVersionLabel.hidden = role === "viewer";
  }
  showOwnerActions();

  body.append(
    pane,
    facts,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: (e) => busy(e.currentTarget, () => download(doc)) }, "Download"),
      newVersion,
      newVersionLabel,
      followButton,
      deleteButton),
    edit,
    sharing,
    linksPanel(doc),
    versions);
  versions.append(h("p", { class: "loading" }, "Loading versions…"));
  loadVersions();
}

// ---------------------------------------------------------------- the trash

export async function trashView(main, params, ctx) {
  const cursors = [null];
  let page = 0;
  const list = h("div", { class: "table-wrap" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const trashedFolders = h("ul", { class: "folders trashed-folders", "aria-label": "Folders in the trash" });
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Trash")),
    h("p", { class: "muted" }, "Deleted documents and folders stay here for 30 days, then they are removed for good."),
    trashedFolders, list, pager);

  // Folders in the trash come back whole: a folder restored brings back what went with it.
  async function loadFolders() {
    const found = await apiAll("folders", { query: { trashed: true } }).catch(() => []);
    if (!ctx.isCurrent()) return;
    clear(trashedFolders, found.map((folder) => h("li", { class: "folder-row", dataset: { folderId: folder.folder_id } },
      h("span", { class: "folder" }, folderIcon(), " ", folder.path),
      h("button", {
        type: "button", class: "small primary", "aria-label": `Restore folder ${folder.name}`,
        onclick: (e) => busy(e.currentTarget, async () => {
          const back = await api("POST", `folders/${encodeURIComponent(folder.folder_id)}/restore`);
          announce(`${back.path} is back, with everything in it.`);
          await loadFolders();
          await load();
          keepFocusInTrash();
        }),
      }, "Restore"))));
  }
  loadFolders();

  // The row whose button had the focus is gone: the next document's Restore takes it, else the heading.
  const keepFocusInTrash = () => {
    if (!focusLost()) return;
    const next = list.querySelector("button");
    if (next) next.focus();
    else focusMain();
  };

  async function load() {
    const result = await api("GET", "documents", { query: { trashed: true, sort: "modified", limit: PAGE_SIZE, cursor: cursors[page] } });
    if (!ctx.isCurrent()) return;
    cursors[page + 1] = result.next_cursor;
    if (!result.items.length && page === 0) {
      clear(list, h("p", { class: "empty" }, "The trash is empty."));
    } else {
      clear(list, h("table", { class: "documents" },
        h("caption", { class: "visually-hidden" }, "Documents in the trash"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Folder"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Deleted"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {}, result.items.map((doc) => h("tr", { dataset: { documentId: doc.document_id } },
          h("td", { class: "name", "data-label": "Name" }, doc.name),
          h("td", { "data-label": "Folder" }, doc.path),
          h("td", { class: "num", "data-label": "Size" }, formatBytes(doc.size)),
          h("td", { "data-label": "Deleted" }, timeElement(doc.trashed_at || doc.modified_at)),
          h("td", { class: "row-actions" },
            h("button", {
              type: "button", class: "small primary", "aria-label": `Restore ${doc.name}`,
              onclick: (e) => busy(e.currentTarget, async () => {
                await api("POST", `documents/${encodeURIComponent(doc.document_id)}/restore`);
                announce(`${doc.name} restored to ${doc.path}.`);
                await load();
                keepFocusInTrash();
              }),
            }, "Restore"),
            h("button", {
              type: "button", class: "small danger", "aria-label": `Delete forever ${doc.name}`,
              onclick: (e) => busy(e.currentTarget, async () => {
                if (!(await confirmDialog("Delete forever?", `${doc.name} and all its versions will be gone for good.`, "Delete forever"))) return;
                await api("DELETE", `documents/${encodeURIComponent(doc.document_id)}`, { query: { permanent: true } });
                announce(`${doc.name} deleted for good.`);
                await load();
                keepFocusInTrash();
              }),
            }, "Delete forever")))))));
    }
    clear(pager,
      h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "← Previous"),
      h("span", { class: "muted" }, `Page ${page + 1}`),
      h("button", { type: "button", disabled: !result.next_cursor, onclick: () => { page += 1; load(); } }, "Next →"));
    pager.hidden = page === 0 && !result.next_cursor;
  }
  await load();
}


// ---------------------------------------------------------------- shared with me

export async function sharedView(main, params, ctx) {
  const items = await apiAll("shared");
  if (!ctx.isCurrent()) return;
  const refresh = () => { if (ctx.isCurrent()) sharedView(main, params, ctx); };
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Shared with me")),
    h("p", { class: "muted" }, "Documents other people share with you. Follow one to get a mail when it changes."),
    items.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "documents" },
        h("caption", { class: "visually-hidden" }, "Documents shared with you"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Shared by"), h("th", { scope: "col" }, "Access"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Modified"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {}, items.map((doc) => h("tr", { dataset: { documentId: doc.document_id } },
          h("td", { class: "name", "data-label": "Name" }, h("button", { type: "button", class: "link doc-open", onclick: () => openDocument(doc.document_id, refresh, doc) }, doc.name)),
          h("td", { "data-label": "Shared by", class: "shared-by" }, doc.owner_username || "—"),
          h("td", { "data-label": "Access" }, doc.permission === "edit" ? "Can edit" : "Can view"),
          h("td", { class: "num", "data-label": "Size" }, formatBytes(doc.size)),
          h("td", { "data-label": "Modified" }, timeElement(doc.modified_at)),
          h("td", { class: "row-actions" },
            h("button", { type: "button", class: "small", "aria-label": `Download ${doc.name}`, onclick: (e) => busy(e.currentTarget, () => download(doc)) }, "Download")))))))
      : h("p", { class: "empty" }, "Nothing is shared with you yet."));
}
