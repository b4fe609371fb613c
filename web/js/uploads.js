// Uploads straight from the browser to S3. DocStore hands out grants; the bytes go to S3 only.
//  - small files: the signed POST form (fields, then the file as `file`) to form.url;
//  - large files: multipart, parts PUT in parallel to presigned URLs, one progress bar per file,
//    resumable after a reload (the upload id and the file's identity are kept in localStorage;
//    the person picks the same file again, and only the parts S3 lacks are sent).
import { api, ApiError, storedAccount } from "./api.js";
import { announce, askClash, clear, errorNodes, explainError, formatBytes, h } from "./ui.js";

const PENDING_KEY = "docstore.pendingUploads";
const THRESHOLD_KEY = "docstore.multipartThreshold";
const DEFAULT_THRESHOLD = 32 * 1024 * 1024;
const PARALLEL_PARTS = 4;

// Settings from the page's query string (e.g. /?multipart_threshold=1000000), kept for the tab.
const params = new URLSearchParams(location.search);
if (params.has("multipart_threshold")) sessionStorage.setItem(THRESHOLD_KEY, params.get("multipart_threshold"));
/** For tests: stop a multipart upload after this many parts, as if the tab had closed. */
const stopAfterParts = Number(params.get("test_stop_after_parts") || 0);

export function multipartThreshold() {
  const value = Number(sessionStorage.getItem(THRESHOLD_KEY));
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_THRESHOLD;
}

/** How long a finished upload stays listed once nothing else is running (then the panel goes). */
const AUTO_HIDE_MS = 8000;

// "Hide" clears finished uploads and closes the panel; running ones and unfinished ones stay listed.
document.getElementById("uploads-hide")?.addEventListener("click", () => {
  for (const row of document.querySelectorAll("#upload-list li.done, #upload-list li.failed")) row.remove();
  panel().hidden = true;
});

// "Collapse" folds the panel to its one-line summary; "Expand" opens it again.
document.getElementById("uploads-toggle")?.addEventListener("click", (event) => {
  setCollapsed(!panel().classList.contains("collapsed"));
  event.currentTarget.focus();
});

function setCollapsed(collapsed) {
  panel().classList.toggle("collapsed", collapsed);
  const toggle = document.getElementById("uploads-toggle");
  if (toggle) {
    toggle.textContent = collapsed ? "Expand" : "Collapse";
    toggle.setAttribute("aria-expanded", String(!collapsed));
  }
}

/** The panel's one-line summary ("1 uploading · 2 done"); with nothing running, finished rows leave soon. */
let hideTimer = null;
function summarise() {
  const rows = [...list().children];
  const running = rows.filter((row) => !row.matches(".done, .failed, .paused")).length;
  const done = rows.filter((row) => row.matches(".done")).length;
  const failed = rows.filter((row) => row.matches(".failed, .paused")).length;
  const parts = [];
  if (running) parts.push(`${running} uploading`);
  if (done) parts.push(`${done} done`);
  if (failed) parts.push(`${failed} need attention`);
  const summary = document.getElementById("uploads-summary");
  if (summary) summary.textContent = parts.join(" · ");
  clearTimeout(hideTimer);
  if (!running && done) hideTimer = setTimeout(autoHide, AUTO_HIDE_MS);
}

// Finished uploads go; failed, paused and unfinished ones stay until the person acts on them.
function autoHide() {
  if (list().querySelector("li.upload:not(.done):not(.failed):not(.paused)")) return;
  for (const row of list().querySelectorAll("li.done")) row.remove();
  if (!list().children.length && !document.querySelector("#upload-pending li")) panel().hidden = true;
  summarise();
}

let onUploaded = () => {};
/** Called after each upload completes (the file list refreshes). */
export function setUploadedHandler(handler) {
  onUploaded = handler;
}

// ---- unfinished multipart uploads, kept across reloads ----

function readPending() {
  try {
    return JSON.parse(localStorage.getItem(PENDING_KEY) || "[]");
  } catch {
    return [];
  }
}

function writePending(items) {
  localStorage.setItem(PENDING_KEY, JSON.stringify(items));
}

function keepPending(entry) {
  writePending([...readPending().filter((p) => p.upload_id !== entry.upload_id), entry]);
}

function dropPending(uploadId) {
  writePending(readPending().filter((p) => p.upload_id !== uploadId));
}

/** Unfinished uploads of the logged-in account. */
export function pendingUploads() {
  const account = storedAccount();
  return readPending().filter((p) => !account || p.account_id === account.account_id);
}

// ---- the uploads panel ----

function panel() {
  return document.getElementById("uploads");
}

function list() {
  return document.getElementById("upload-list");
}

class UploadRow {
  constructor(name, size) {
    this.progress = h("progress", { max: String(size || 1), value: "0", "aria-label": `Upload progress of ${name}` });
    this.state = h("span", { class: "upload-state" }, "Waiting…");
    this.amount = h("span", { class: "upload-amount" }, `0 of ${formatBytes(size)}`);
    this.rate = h("span", { class: "upload-rate" });
    this.nameNode = h("strong", { class: "upload-name" }, name);
    this.samples = [];
    this.cancelButton = h("button", { type: "button", class: "small", onclick: () => this.onCancel?.() }, "Cancel");
    this.node = h("li", { class: "upload" },
      h("div", { class: "upload-head" }, this.nameNode, this.cancelButton),
      this.progress,
      h("div", { class: "upload-meta" }, this.state, " · ", this.amount, this.rate));
    this.size = size;
    this.name = name;
    list().prepend(this.node);
    panel().hidden = false;
    summarise();
  }

  set(loaded, text) {
    this.progress.value = Math.min(loaded, this.size);
    this.amount.textContent = `${formatBytes(loaded)} of ${formatBytes(this.size)}`;
    if (text) this.state.textContent = text;
    this.showRate(loaded);
  }

  /** Speed over the last few seconds and the time left at that speed ("2.1 MB/s · 12 s left"). */
  showRate(loaded) {
    const now = performance.now();
    const last = this.samples[this.samples.length - 1];
    if (last && loaded < last.loaded) this.samples = []; // started again (Retry)
    this.samples.push({ at: now, loaded });
    while (this.samples.length > 2 && now - this.samples[0].at > 4000) this.samples.shift();
    const first = this.samples[0];
    const seconds = (now - first.at) / 1000;
    if (loaded >= this.size || seconds < 0.5 || loaded <= first.loaded) {
      this.rate.textContent = "";
      return;
    }
    const speed = (loaded - first.loaded) / seconds;
    this.rate.textContent = ` · ${formatBytes(speed)}/s · ${timeLeft((this.size - loaded) / speed)}`;
  }

  /** The name the file is stored under ("Keep both" numbers it). */
  rename(name) {
    this.name = name;
    this.nameNode.textContent = name;
  }

  /** A Retry button beside Remove on a failed row: `retry()` goes on with the same upload. */
  offerRetry(retry) {
    this.retryButton?.remove();
    this.retryButton = h("button", {
      type: "button", class: "small primary", "aria-label": `Retry ${this.name}`,
      onclick: () => { this.retryButton.remove(); this.retryButton = null; retry(); },
    }, "Retry");
    this.cancelButton.before(this.retryButton);
  }

  /** The row again as a running upload (Retry). */
  restart() {
    this.retryButton?.remove();
    this.retryButton = null;
    this.node.classList.remove("failed", "done", "paused");
    this.cancelButton.textContent = "Cancel";
    this.cancelButton.removeAttribute("aria-label");
    this.onCancel = null;
    summarise();
    return this;
  }

  finish(text, kind) {
    this.state.textContent = text;
    this.rate.textContent = "";
    this.node.classList.add(...kind.split(" "));
    this.cancelButton.textContent = "Remove";
    this.cancelButton.setAttribute("aria-label", `Remove ${this.name} from the list`);
    this.onCancel = () => {
      this.node.remove();
      summarise();
    };
    summarise();
  }
}

function timeLeft(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min left`;
  return `${Math.round(seconds / 360) / 10} h left`;
}

// ---- talking to S3 ----

/** XHR, for upload progress. Resolves with the XHR when S3 answers 2xx. */
function send(method, url, body, onProgress, controller) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.upload.addEventListener("progress", (event) => onProgress?.(event.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else reject(new Error(`Storage refused the file: ${s3Message(xhr.responseText) || `HTTP ${xhr.status}`}`));
    });
    xhr.addEventListener("error", () => reject(new Error("The connection to storage failed.")));
    xhr.addEventListener("abort", () => reject(new DOMException("Cancelled", "AbortError")));
    controller?.signal.addEventListener("abort", () => xhr.abort());
    xhr.send(body);
  });
}

function s3Message(xml) {
  const match = /<Message>([^<]*)<\/Message>/.exec(xml || "");
  return match ? match[1] : "";
}

async function grant(file, options) {
  const body = {
    filename: options.filename || file.name,
    size: file.size,
    content_type: file.type || "application/octet-stream",
    path: options.path || "/",
    tags: options.tags || [],
  };
  if (options.documentId) {
    body.document_id = options.documentId;
    if (options.baseVersion) body.base_version = options.baseVersion;
  }
  if (file.size >= multipartThreshold()) body.multipart = true;
  try {
    return await api("POST", "uploads", { json: body });
  } catch (error) {
    // A type the browser names but DocStore does not list: store it as plain bytes.
    if (error instanceof ApiError && error.status === 422 && /content_type/.test(error.message) && body.content_type !== "application/octet-stream") {
      return api("POST", "uploads", { json: { ...body, content_type: "application/octet-stream" } });
    }
    throw error;
  }
}

async function complete(uploadId) {
  // 409 while S3 has not got everything yet (rare: S3 answered before it was readable).
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api("POST", `uploads/${encodeURIComponent(uploadId)}/complete`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409 || attempt >= 8) throw error;
      await new Promise((r) => setTimeout(r, 250 * 2 ** Math.min(attempt, 4)));
    }
  }
}

/** The document (at `minVersion` or later) shows in listings once metadata has the upload's event.
 * A large multipart file is read back for its checksum first (seconds per GiB): wait longer for it.
 * A new document is looked for in the newest of the list (asking for it by id would answer 404,
 * an error in the console, until it arrives); a new version asks for the document, which exists. */
async function waitForDocument(documentId, minVersion = 1, size = 0) {
  const deadline = Date.now() + 20000 + size / (32 * 1024);
  for (let delay = 150; Date.now() < deadline; delay = Math.min(delay * 2, 1500)) {
    let doc;
    if (minVersion > 1) {
      doc = await api("GET", `documents/${encodeURIComponent(documentId)}`);
    } else {
      const newest = await api("GET", "documents", { query: { sort: "modified", order: "desc", limit: 50 } });
      doc = newest.items.find((item) => item.document_id === documentId);
    }
    if (doc && doc.version >= minVersion) return doc;
    await new Promise((r) => setTimeout(r, delay));
  }
  return null;
}

async function viaForm(file, form, row, controller) {
  const data = new FormData();
  for (const [name, value] of Object.entries(form.fields)) data.append(name, value);
  data.append("file", file);
  await send("POST", form.url, data, (loaded) => row.set(Math.min(loaded, file.size)), controller);
}

/** PUT `parts` ({part_number, url}) of `file` in parallel; `done` bytes are already stored. */
async function putParts(file, partSize, parts, done, row, controller) {
  const loading = new Map();
  const show = () => {
    let sum = done;
    for (const value of loading.values()) sum += value;
    row.set(sum, `Uploading in parts… ${Math.round((100 * sum) / file.size)}%`);
  };
  const queue = [...parts];
  let started = 0;
  const worker = async () => {
    while (queue.length) {
      if (stopAfterParts && started >= stopAfterParts) return;
      started += 1;
      const part = queue.shift();
      const start = (part.part_number - 1) * partSize;
      const blob = file.slice(start, Math.min(start + partSize, file.size));
      loading.set(part.part_number, 0);
      const xhr = await send("PUT", part.url, blob, (loaded) => {
        loading.set(part.part_number, loaded);
        show();
      }, controller);
      if (!xhr.getResponseHeader("ETag")) console.warn("storage did not expose the part's ETag");
      loading.delete(part.part_number);
      done += blob.size;
      show();
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, parts.length) }, worker));
  return queue.length === 0 && loading.size === 0;
}

/** The upload's state on the server (`pending`, `verifying`, `completed`, `expired`, `aborted`,
 * `rejected`), or null when the server cannot be asked either. */
async function serverState(uploadId) {
  try {
    return (await api("GET", `uploads/${encodeURIComponent(uploadId)}`)).status;
  } catch {
    return null;
  }
}

const STORED = new Set(["completed", "verifying"]);

/**
 * Run `work` (resolves {documentId, minVersion}, or false when paused) for `row`. `grantOf()` is
 * the upload's grant once asked for. A failure counts only after asking the server: an upload it
 * has (the connection dropped after the bytes or the completion arrived) is shown done, never
 * failed; one it lacks is offered Retry, which goes on with the same upload (no second document).
 */
async function run(file, row, controller, work, { grantOf = () => null, retry } = {}) {
  row.onCancel = () => controller.abort();
  const succeeded = async (finished) => {
    row.set(file.size, "Stored; adding it to your files…");
    if (finished && finished.documentId) await waitForDocument(finished.documentId, finished.minVersion, file.size);
    row.finish("Uploaded", "done");
    announce(`${row.name} uploaded.`);
    onUploaded();
  };
  try {
    const finished = await work();
    if (finished === SKIPPED) {
      row.finish("Skipped: a file with this name is already there", "done skipped");
      announce(`${file.name} skipped: a file with this name is already there.`);
      return;
    }
    if (finished === false) {
      row.finish("Paused: reload and choose the file again to resume", "paused");
      renderPending();
      return;
    }
    await succeeded(finished);
  } catch (error) {
    if (error.name === "AbortError") {
      row.finish("Cancelled", "failed");
      announce(`Upload of ${file.name} cancelled.`);
      renderPending();
      return;
    }
    const granted = grantOf();
    if (granted) {
      row.state.textContent = "Checking with DocStore…";
      if (STORED.has(await serverState(granted.upload_id))) {
        dropPending(granted.upload_id);
        renderPending();
        try {
          await succeeded(granted.finished);
          return;
        } catch {
          // The file is stored; only the wait for the list failed: fall through to say so.
        }
      }
    }
    row.finish("Failed: ", "failed");
    row.state.append(...errorNodes(error).flat().filter(Boolean));
    if (retry) row.offerRetry(retry);
    announce(`Upload of ${file.name} failed: ${explainError(error).text}`);
    renderPending();
  }
}

/** Upload one file into folder `path` (or as a new version of `documentId`). */
export function uploadFile(file, options = {}, row = new UploadRow(file.name, file.size)) {
  let controller = new AbortController();
  let granted = null;
  let minVersion = options.baseVersion ? options.baseVersion + 1 : 1;
  const finished = () => ({ documentId: granted.document_id, minVersion });
  const send = async () => {
    if (granted.form) {
      row.set(0, "Uploading…");
      await viaForm(file, granted.form, row, controller);
    } else if (granted.multipart) {
      if (!(await putParts(file, granted.multipart.part_size, granted.multipart.parts, 0, row, controller))) return false;
    } else {
      throw new Error("DocStore offered no way to upload this file.");
    }
    return true;
  };
  const first = async () => {
    row.set(0, "Asking for an upload slot…");
    const asked = await grantOrAsk(file, options, row);
    if (asked.granted === SKIPPED) return SKIPPED;
    ({ granted, options } = asked);
    minVersion = options.baseVersion ? options.baseVersion + 1 : 1;
    granted.finished = finished();
    if (granted.multipart) {
      keepPending({
        upload_id: granted.upload_id, document_id: granted.document_id, account_id: storedAccount()?.account_id,
        name: file.name, size: file.size, last_modified: file.lastModified, path: options.path || "/",
        part_size: granted.multipart.part_size, started_at: new Date().toISOString(),
      });
      const abortOnCancel = () => api("DELETE", `uploads/${encodeURIComponent(granted.upload_id)}`).catch(() => {});
      controller.signal.addEventListener("abort", () => { dropPending(granted.upload_id); abortOnCancel(); });
    }
    if (!(await send())) return false;
    row.set(file.size, "Finishing…");
    await complete(granted.upload_id);
    dropPending(granted.upload_id);
    return finished();
  };
  // Retry goes on with the same upload: stored already → done; the bytes arrived → complete it;
  // else send what is missing and complete. Only an upload the server has closed starts again.
  const retry = () => {
    if (!granted) return uploadFile(file, options, row.restart());
    controller = new AbortController();
    const again = controller;
    return run(file, row.restart(), again, async () => {
      row.set(0, "Checking with DocStore…");
      const state = await serverState(granted.upload_id);
      if (STORED.has(state)) return finished();
      if (state !== "pending") {
        dropPending(granted.upload_id);
        granted = null;
        return first();
      }
      if (granted.multipart) {
        const parts = await api("GET", `uploads/${encodeURIComponent(granted.upload_id)}/parts`);
        const done = parts.stored.reduce((sum, part) => sum + part.size, 0);
        if (!(await putParts(file, parts.part_size, parts.missing, done, row, again))) return false;
      } else {
        try {
          await api("POST", `uploads/${encodeURIComponent(granted.upload_id)}/complete`);
          return finished();
        } catch (error) {
          // 409: the bytes never reached storage: send them again with the same grant.
          if (!(error instanceof ApiError) || error.status !== 409) throw error;
        }
        row.set(0, "Uploading…");
        await viaForm(file, granted.form, row, again);
      }
      row.set(file.size, "Finishing…");
      await complete(granted.upload_id);
      dropPending(granted.upload_id);
      return finished();
    }, { grantOf: () => granted, retry });
  };
  return run(file, row, controller, first, { grantOf: () => granted, retry });
}

/** Upload several files into one folder; one clash answer may be kept for the rest (`batch`). */
export function uploadFiles(files, options) {
  const all = [...files];
  const batch = { size: all.length, choice: null };
  return Promise.all(all.map((file) => uploadFile(file, { ...options, batch })));
}

// One clash question at a time (several files of a drop may clash).
let asking = Promise.resolve();
function oneAtATime(question) {
  const answer = asking.then(question);
  asking = answer.catch(() => {});
  return answer;
}

const SKIPPED = Symbol("skipped");

/** The document called `name` in folder `path` (the one a clash names), or null. */
async function documentNamed(path, name) {
  const wanted = name.normalize("NFC");
  for (let cursor = null, page = 0; page < 50; page += 1) {
    const found = await api("GET", "documents", { query: { path, sort: "name", order: "asc", limit: 200, cursor } });
    const doc = found.items.find((item) => item.name.normalize("NFC") === wanted);
    if (doc) return doc;
    cursor = found.next_cursor;
    if (!cursor) break;
  }
  return null;
}

/**
 * The upload's grant; when the name is taken in the folder (409 `name-taken` with its choices) the
 * person is asked, as Dropbox, Drive and Nextcloud ask: Replace (a new version of the document
 * there), Keep both (this file under the numbered name the server offers) or Skip (SKIPPED).
 * Resolves {granted, options}: the options the grant was made with.
 */
async function grantOrAsk(file, options, row) {
  try {
    return { granted: await grant(file, options), options };
  } catch (error) {
    const problem = error instanceof ApiError ? error.body : null;
    if (error.status !== 409 || !Array.isArray(problem?.choices)) throw error;
    row.set(0, "The name is taken there: waiting for your choice…");
    const batch = options.batch;
    const { choice } = await oneAtATime(async () => {
      if (batch?.choice) return { choice: batch.choice };
      const answer = await askClash(problem, { what: file.name, many: (batch?.size || 1) > 1 });
      if (answer.forAll && batch) batch.choice = answer.choice;
      return answer;
    });
    if (choice === "keep_both") {
      if (!problem.keep_both_name) throw new Error("No numbered name is free in that folder: rename the file and upload it again.");
      row.rename(problem.keep_both_name);
      return grantOrAsk(file, { ...options, filename: problem.keep_both_name }, row);
    }
    if (choice === "replace") {
      const holder = await documentNamed(options.path || "/", problem.clash?.name || file.name);
      // Gone meanwhile: the name is free again.
      if (!holder) return grantOrAsk(file, options, row);
      row.set(0, `Replacing: a new version of ${holder.name}…`);
      const replacing = { ...options, documentId: holder.document_id, baseVersion: holder.version, path: holder.path };
      return { granted: await grant(file, replacing), options: replacing };
    }
    return { granted: SKIPPED, options };
  }
}

/** Resume `entry` (from pendingUploads) with `file`, which must be the same file again. */
export function resumeUpload(entry, file) {
  if (file.name !== entry.name || file.size !== entry.size) {
    announce(`That is not the same file: choose ${entry.name} (${formatBytes(entry.size)}).`);
    return Promise.resolve();
  }
  const row = new UploadRow(file.name, file.size);
  const controller = new AbortController();
  const granted = { upload_id: entry.upload_id, finished: { documentId: entry.document_id, minVersion: 1 } };
  return run(file, row, controller, async () => {
    row.set(0, "Checking which parts arrived…");
    const state = await api("GET", `uploads/${encodeURIComponent(entry.upload_id)}/parts`);
    const done = state.stored.reduce((sum, part) => sum + part.size, 0);
    row.set(done, `Resuming: ${state.stored.length} of ${state.part_count} parts already stored`);
    if (!(await putParts(file, state.part_size, state.missing, done, row, controller))) return false;
    row.set(file.size, "Finishing…");
    await complete(entry.upload_id);
    dropPending(entry.upload_id);
    renderPending();
    return { documentId: entry.document_id, minVersion: 1 };
  }, { grantOf: () => granted });
}

/** Drop an unfinished upload for good (its parts are deleted from S3). */
export async function discardUpload(entry) {
  try {
    await api("DELETE", `uploads/${encodeURIComponent(entry.upload_id)}`);
  } catch (error) {
    if (!(error instanceof ApiError) || ![404, 409].includes(error.status)) throw error;
  }
  dropPending(entry.upload_id);
  renderPending();
}

/** List unfinished uploads in the panel, each with a file picker to resume it. */
export function renderPending() {
  const box = document.getElementById("upload-pending");
  const pending = pendingUploads();
  if (!pending.length) {
    clear(box);
    return;
  }
  panel().hidden = false;
  clear(box,
    h("h3", {}, "Unfinished uploads"),
    h("p", { class: "hint" }, "Choose the same file again to send the parts that are missing."),
    h("ul", { class: "pending" }, pending.map((entry) => {
      const input = h("input", {
        type: "file", class: "visually-hidden", id: `resume-${entry.upload_id}`,
        onchange: () => { if (input.files[0]) resumeUpload(entry, input.files[0]); },
      });
      return h("li", { class: "pending-item", dataset: { uploadId: entry.upload_id } },
        h("span", {}, h("strong", {}, entry.name), ` (${formatBytes(entry.size)}) in ${entry.path}`),
        h("span", { class: "actions" },
          input,
          h("label", { for: input.id, class: "button small primary" }, "Choose file to resume"),
          h("button", { type: "button", class: "small", onclick: (e) => discardOrWarn(entry, e.target) }, "Discard")));
    })));
}

async function discardOrWarn(entry, button) {
  button.disabled = true;
  try {
    await discardUpload(entry);
    announce(`Unfinished upload of ${entry.name} discarded.`);
  } catch (error) {
    button.disabled = false;
    announce(`Could not discard: ${error.message}`);
  }
}
