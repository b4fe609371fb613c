// Small DOM helpers. Text from the API is only ever set as text, never parsed as HTML.

/** Build an element: h("button", {class: "x", onclick: fn}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const node = tag === "svg" || SVG_TAGS.has(tag)
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style" && typeof value === "object") Object.assign(node.style, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

const SVG_TAGS = new Set(["rect", "g", "text", "line", "title", "desc", "path", "circle"]);

/** A folder icon drawn inline (an emoji renders as an empty box where no emoji font is installed). */
export function folderIcon() {
  return h("svg", { class: "folder-icon", viewBox: "0 0 24 20", width: "20", height: "17", "aria-hidden": "true", focusable: "false" },
    h("path", { d: "M1 3a2 2 0 0 1 2-2h6l2 3h10a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2z", fill: "#f3c24f", stroke: "#b8860b", "stroke-width": "1" }));
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];
/** Decimal units, as storage is sold: 1 GB = 1,000,000,000 bytes. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "–";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function timeElement(iso) {
  return h("time", { datetime: iso || "" }, formatDate(iso));
}

/**
 * Say something politely to screen readers and show it briefly. With `action` ({label, run}) the
 * toast carries a button (e.g. Undo) and stays longer; pressing it runs `run` and closes the toast.
 */
export function announce(message, { action, timeout } = {}) {
  const area = document.getElementById("status");
  const item = h("p", { class: "toast", dataset: { page: location.hash } }, h("span", {}, message));
  if (action) {
    item.append(h("button", {
      type: "button", class: "small undo",
      onclick: (event) => {
        event.currentTarget.disabled = true;
        item.remove();
        action.run();
      },
    }, action.label));
  }
  area.append(item);
  while (area.children.length > 2) area.firstElementChild.remove();
  // A toast does not go away under the person's focus or pointer (they may be about to press Undo);
  // it goes a moment after they leave it. Escape in it dismisses it and puts the focus on the page.
  const wait = timeout ?? (action ? 10000 : 4500);
  let timer;
  const expire = () => {
    if (item.contains(document.activeElement) || item.matches(":hover")) timer = setTimeout(expire, 1000);
    else item.remove();
  };
  timer = setTimeout(expire, wait);
  item.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    clearTimeout(timer);
    item.remove();
    focusMain();
  });
  return item;
}

/** Put the focus on the toast's action button (e.g. Undo), e.g. when the control that had it is gone. */
export function focusToastAction(item) {
  const button = item?.isConnected ? item.querySelector("button") : null;
  if (button) button.focus();
  return Boolean(button);
}

/** Put the focus at the start of the current view (its heading), for when the control that had it is gone. */
export function focusMain() {
  const main = document.getElementById("main");
  const heading = main.querySelector("h1");
  const target = heading || main;
  if (target === heading) heading.tabIndex = -1;
  target.focus({ preventScroll: true });
}

/** True when nothing useful has the focus (it was on a control that went away, or on the page itself). */
export function focusLost() {
  const active = document.activeElement;
  return !active || active === document.body || active.tagName === "DIALOG" || !active.isConnected;
}

const PLAN_NAMES = { free: "Free", premium: "Premium" };

/**
 * An API error as a person reads it: the problem's `detail`, which the services write for people
 * (sizes in KB/MB/GB, no field names), and {upgrade}: the plan to offer when the problem's
 * `upgrade_plan` says a bigger plan would make room (null where it would not, or no such member).
 */
export function explainError(error) {
  const body = error && typeof error.body === "object" && error.body ? error.body : {};
  const text = String(error?.message || error || "Something went wrong.");
  const upgrade = body.upgrade_plan ? PLAN_NAMES[body.upgrade_plan] || body.upgrade_plan : null;
  return { text: text.charAt(0).toUpperCase() + text.slice(1), upgrade };
}

/** The words of `explainError`, with an "Upgrade to Premium" link when the plan is the limit. */
export function errorNodes(error) {
  const { text, upgrade } = explainError(error);
  return [text, upgrade ? [" ", h("a", { href: "#/usage", class: "upgrade-link" }, `Upgrade to ${upgrade}`)] : null];
}

/** Show an error the person must notice (role="alert"); `clearError()` hides it. `message` may be an error. */
export function showError(message) {
  // The session ended: the login page says so in its own words (no API text over the page).
  if (message && typeof message === "object" && message.status === 401 && message.withToken) return;
  const words = typeof message === "string" ? [message] : errorNodes(message);
  // With a dialog open, the page behind it is inert and hidden: the error shows in the dialog.
  const dialogs = document.querySelectorAll("dialog[open]");
  const dialog = dialogs[dialogs.length - 1];
  if (dialog) {
    let box = dialog.querySelector(".dialog-alert");
    if (!box) {
      box = h("div", { class: "dialog-alert alert", role: "alert" });
      dialog.querySelector(".dialog-head").after(box);
    }
    clear(box, h("p", {}, words), h("button", { type: "button", class: "link", onclick: () => box.remove() }, "Dismiss"));
    return;
  }
  const box = document.getElementById("alert");
  clear(box, h("p", {}, words), h("button", { type: "button", class: "link", onclick: clearError }, "Dismiss"));
  box.hidden = false;
}

export function clearError() {
  const box = document.getElementById("alert");
  box.hidden = true;
  box.replaceChildren();
  for (const inDialog of document.querySelectorAll(".dialog-alert")) inDialog.remove();
}

/** Run an async action from a button: disable it meanwhile, show its error if it fails. */
export async function busy(button, action) {
  const wasDisabled = button?.disabled;
  // A disabled button loses the focus: a keyboard user gets it back when the button is enabled again.
  const hadFocus = Boolean(button) && document.activeElement === button;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    clearError();
    return await action();
  } catch (error) {
    showError(error instanceof Error ? error : String(error));
    return undefined;
  } finally {
    if (button) {
      button.disabled = wasDisabled;
      button.removeAttribute("aria-busy");
      if (hadFocus && button.isConnected && focusLost()) button.focus();
    }
  }
}

// The entities the indexer's escaping produces (Python's html.escape); nothing else occurs.
const SNIPPET_ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

function unescapeSnippet(text) {
  return text.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (entity) => SNIPPET_ENTITIES[entity]);
}

/**
 * A search snippet from the indexer: an HTML fragment whose text is escaped and whose only
 * markup is <mark>…</mark> (see services/indexer/README.md). Built as DOM nodes, never
 * innerHTML: the marks become <mark> elements, the rest text nodes with the escaping undone
 * (so a document's "<script>" or "&lt;" is shown exactly as written, and never runs).
 */
export function snippetNode(snippet) {
  const node = h("span", { class: "snippet" });
  let marked = false;
  for (const piece of String(snippet || "").split(/(<\/?mark>)/)) {
    if (piece === "<mark>") marked = true;
    else if (piece === "</mark>") marked = false;
    else if (piece) {
      const text = unescapeSnippet(piece);
      node.append(marked ? h("mark", {}, text) : document.createTextNode(text));
    }
  }
  return node;
}

/**
 * A modal dialog with a heading; returns {dialog, body, close}. Escape closes it. On closing, the
 * focus goes back to the control that opened it; when that control was redrawn meanwhile (the list
 * follows changes), to `returnFocus()`'s element (e.g. the same document's name), else the page.
 */
export function openDialog(title, { onClose, returnFocus } = {}) {
  const opener = document.activeElement;
  const headingId = `dlg-${Math.random().toString(36).slice(2)}`;
  const body = h("div", { class: "dialog-body" });
  const dialog = h(
    "dialog",
    { "aria-labelledby": headingId, class: "dialog" },
    h("div", { class: "dialog-head" },
      h("h2", { id: headingId }, title),
      h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    body,
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (focusLost()) {
      const target = opener && opener !== document.body && opener.isConnected ? opener : returnFocus?.();
      if (target) target.focus();
      else focusMain();
    }
    onClose?.();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, body, close: () => dialog.close() };
}

/** Ask a yes/no question in a dialog; resolves true when confirmed. */
export function confirmDialog(title, message, confirmLabel = "OK") {
  return new Promise((resolve) => {
    let answer = false;
    const { body, close } = openDialog(title, { onClose: () => resolve(answer) });
    body.append(
      h("p", {}, message),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => { answer = true; close(); } }, confirmLabel),
        h("button", { type: "button", onclick: close }, "Cancel")),
    );
    body.querySelector("button.primary").focus();
  });
}

const CLASH_LABELS = { replace: "Replace", keep_both: "Keep both", skip: "Skip" };

/**
 * Ask what to do about a name clash (the server's 409 `name-taken`: `clash`, `choices`,
 * `keep_both_name`), as Dropbox, Drive and Nextcloud do: Replace, Keep both or Skip. With `many`
 * (several items in one action) a box applies the answer to the rest. Resolves to
 * {choice, forAll}; closing the dialog is Skip.
 */
export function askClash(problem, { what, many = false } = {}) {
  return new Promise((resolve) => {
    let answer = { choice: "skip", forAll: false };
    const { body, close } = openDialog("A file with this name is already there", { onClose: () => resolve(answer) });
    const name = problem?.clash?.name || what || "This file";
    const where = problem?.clash?.path ? (problem.clash.path === "/" ? "your top folder" : problem.clash.path) : "this folder";
    const all = many ? h("input", { type: "checkbox", id: `clash-all-${Math.random().toString(36).slice(2)}` }) : null;
    const words = {
      replace: "Replace: it becomes a new version of the one there (older versions are kept).",
      keep_both: problem?.keep_both_name ? `Keep both: this one is named “${problem.keep_both_name}”.` : "Keep both: this one gets a numbered name.",
      skip: "Skip: nothing changes.",
    };
    const choices = Array.isArray(problem?.choices) ? problem.choices : ["keep_both", "skip"];
    append(body, [
      h("p", { class: "clash-what" }, `“${name}” is already in ${where}.`),
      h("ul", { class: "clash-choices" }, choices.map((c) => h("li", {}, words[c] || c))),
      all ? h("div", { class: "check" }, all, h("label", { for: all.id }, "Do this for every clash in this action")) : null,
      h("div", { class: "actions" }, choices.map((c) => h("button", {
        type: "button", class: c === "keep_both" ? "primary" : c === "replace" ? "danger" : "", dataset: { choice: c },
        onclick: () => { answer = { choice: c, forAll: Boolean(all?.checked) }; close(); },
      }, CLASH_LABELS[c] || c)))]);
    (body.querySelector("button.primary") || body.querySelector(".actions button"))?.focus();
  });
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

export function parseTags(text) {
  return [...new Set(String(text || "").split(",").map((t) => t.trim()).filter(Boolean))];
}

/** Trigger a browser download of a URL (a short-lived signed S3 link). */
export function downloadUrl(url) {
  const link = h("a", { href: url, download: "", rel: "noopener", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}
