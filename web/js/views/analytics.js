// Charts over time (analytics service): a person's storage, what takes the room and their links'
// downloads on the Usage page; system-wide series, the most-downloaded and most-shared documents
// and CSV exports on the admin page. Charts are drawn by uPlot (vendored: web/vendor/uplot);
// every chart has a table alternative with the same figures (`data-value` holds the raw number).
import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { api } from "../api.js";
import { usageView } from "./account.js";
import { adminView } from "./admin.js";
import { announce, busy, clear, confirmDialog, formatBytes, h, showError } from "../ui.js";

const DAYS = 90;
const COLOURS = ["#2563eb", "#d98b00", "#15803d", "#b91c1c", "#7c3aed", "#0e7490"];
const count = (n) => String(n ?? 0);

/** Seconds since the epoch of a `YYYY-MM-DD` (UTC midnight), uPlot's x values. */
function dayTime(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/**
 * A chart over days with its table alternative.
 * `series`: [{key, label, format}], values read from each point's `key` (0 when absent).
 */
export function timeChart(id, title, points, series, { format = count, note } = {}) {
  const plot = h("div", { class: "time-chart-plot", "aria-hidden": "true" });
  const last = points[points.length - 1] || {};
  const summary = series.map((s) => `${s.label}: ${(s.format || format)(last[s.key] ?? 0)}`).join(", ");
  const table = h("table", { class: "chart-table", dataset: { chart: id } },
    h("caption", {}, `${title}, by day (UTC)`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), series.map((s) => h("th", { scope: "col" }, s.label)))),
    h("tbody", {}, [...points].reverse().map((p) => h("tr", { dataset: { day: p.day } },
      h("th", { scope: "row" }, p.day),
      series.map((s) => h("td", { class: "num", dataset: { series: s.key, value: String(p[s.key] ?? 0) } }, (s.format || format)(p[s.key] ?? 0)))))));
  const figure = h("figure", { class: "chart time-chart", dataset: { chart: id }, "aria-label": `${title}. Latest: ${summary}` },
    h("figcaption", {}, title),
    note ? h("p", { class: "muted small" }, note) : null,
    plot,
    h("details", { class: "chart-details" }, h("summary", {}, `${title} as a table`),
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `${title} table` }, table)));
  queueMicrotask(() => draw(plot, points, series, format));
  return figure;
}

function draw(plot, points, series, format) {
  if (!plot.isConnected) return;
  const data = [points.map((p) => dayTime(p.day)), ...series.map((s) => points.map((p) => p[s.key] ?? 0))];
  const width = () => Math.max(240, plot.clientWidth || 320);
  const chart = new uPlot({
    width: width(),
    height: 200,
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { values: (u, ticks) => ticks.map((v) => (series[0]?.format || format)(v)), size: 70 }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, fill: `${COLOURS[i % COLOURS.length]}1a` }))],
  }, data, plot);
  if (typeof ResizeObserver === "function") {
    const observer = new ResizeObserver(() => {
      if (!plot.isConnected) { observer.disconnect(); chart.destroy(); return; }
      chart.setSize({ width: width(), height: 200 });
    });
    observer.observe(plot);
  }
}

function roomTable(id, caption, rows, column, action) {
  if (!rows.length) return h("p", { class: "empty", dataset: { room: id } }, "Nothing here.");
  return h("div", { class: "table-wrap" }, h("table", { class: "room-table", dataset: { room: id } },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ["Document", "Size", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((doc) => h("tr", { dataset: { documentId: doc.document_id } },
      h("td", { "data-label": "Document" }, h("a", { href: `#/files?open=${encodeURIComponent(doc.document_id)}` }, doc.name || doc.document_id)),
      h("td", { class: "num", "data-label": "Size", dataset: { value: String(doc[column]) } }, formatBytes(doc[column])),
      h("td", {}, action(doc)))))));
}

/** What frees each kind of room: trash a file, manage its versions, delete it from the trash for good. */
function trashButton(doc, done) {
  return h("button", {
    type: "button", class: "small", "aria-label": `Move to trash: ${doc.name}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      if (!(await confirmDialog("Move to the trash?", `${doc.name} goes to the trash. Its bytes are freed when the trash is emptied.`, "Move to trash"))) return;
      await api("DELETE", `documents/${encodeURIComponent(doc.document_id)}`);
      announce(`${doc.name} moved to the trash.`);
      done();
    }),
  }, "Move to trash");
}

function versionsLink(doc) {
  return h("a", { class: "button small", href: `#/files?open=${encodeURIComponent(doc.document_id)}`, "aria-label": `Manage versions: ${doc.name}` }, "Manage versions");
}

function purgeButton(doc, done) {
  return h("button", {
    type: "button", class: "small danger", "aria-label": `Delete forever ${doc.name}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      if (!(await confirmDialog("Delete forever?", `${doc.name} and all its versions will be gone for good.`, "Delete forever"))) return;
      await api("DELETE", `documents/${encodeURIComponent(doc.document_id)}`, { query: { permanent: true } });
      announce(`${doc.name} deleted for good.`);
      done();
    }),
  }, "Delete forever");
}

/** The Usage page: the plan's bar (account.js), then storage over time, what takes the room, links. */
export async function usagePage(main, params, ctx) {
  await usageView(main, params, ctx);
  const insights = h("div", { class: "insights" }, h("p", { class: "loading" }, "Loading your usage over time…"));
  main.append(insights);
  const load = async () => {
    const [usage, links] = await Promise.all([
      api("GET", "analytics/usage", { query: { days: DAYS } }),
      api("GET", "analytics/links", { query: { days: DAYS } }),
    ]);
    if (ctx && ctx.isCurrent && !ctx.isCurrent()) return;
    const reload = () => load().catch(showError);
    clear(insights,
      h("section", { class: "card", "aria-labelledby": "history-title" },
        h("h2", { id: "history-title" }, `Storage over the last ${DAYS} days`),
        timeChart("storage", "Storage", usage.days, [
          { key: "current_bytes", label: "Current versions" },
          { key: "old_bytes", label: "Older versions" },
          { key: "trash_bytes", label: "Trash" },
        ], { format: formatBytes }),
        timeChart("transfers", "Uploads and downloads", usage.days, [
          { key: "uploads", label: "Uploads" },
          { key: "downloads", label: "Downloads" },
          { key: "link_downloads", label: "Link downloads" },
        ])),
      h("section", { class: "card", "aria-labelledby": "room-title" },
        h("h2", { id: "room-title" }, "What takes the room"),
        h("ul", { class: "stats" },
          h("li", {}, h("span", { class: "stat" }, formatBytes(usage.now.current_bytes)), " current versions"),
          h("li", {}, h("span", { class: "stat" }, formatBytes(usage.now.old_bytes)), " older versions"),
          h("li", {}, h("span", { class: "stat" }, formatBytes(usage.now.trash_bytes)), " in the trash")),
        h("h3", {}, "Largest files"),
        roomTable("largest", "Largest files", usage.largest, "current_bytes", (doc) => trashButton(doc, reload)),
        h("h3", {}, "Older versions"),
        roomTable("old_versions", "Documents whose older versions take the most room", usage.old_versions, "old_bytes", versionsLink),
        h("h3", {}, "Trash"),
        roomTable("trash", "Largest documents in the trash", usage.trash, "trash_bytes", (doc) => purgeButton(doc, reload)),
        h("p", {}, h("a", { href: "#/trash" }, "Open the trash"))),
      h("section", { class: "card", "aria-labelledby": "link-stats-title" },
        h("h2", { id: "link-stats-title" }, "Downloads through your public links"),
        links.links.length
          ? links.links.slice(0, 10).map((link) => timeChart(`link-${link.link_id}`, `${link.name || link.document_id} (${link.downloads} in all)`,
            links.days.map((day, i) => ({ day, downloads: link.by_day[i] })), [{ key: "downloads", label: "Downloads" }]))
          : h("p", { class: "empty" }, "None of your public links has been used yet."),
        h("p", {}, h("a", { href: "#/links" }, "Manage your links"))));
  };
  await load().catch((error) => clear(insights, h("p", { class: "error-text" }, error.message)));
}

const PLAN_LABEL = { free: "Free", premium: "Premium" };

/** The admin page (admin.js), then the analytics section: charts over time, top documents, exports. */
export async function adminPage(main, params, ctx) {
  await adminView(main, params, ctx);
  const section = h("section", { class: "card", "aria-labelledby": "trends-title" }, h("h2", { id: "trends-title" }, "Over time"),
    h("p", { class: "loading" }, "Loading the charts…"));
  main.querySelector(".view-head")?.after(section);
  try {
    const [overview, downloaded, shared] = await Promise.all([
      api("GET", "admin/analytics", { query: { days: DAYS } }),
      api("GET", "admin/analytics/top/most-downloaded", { query: { limit: 10 } }),
      api("GET", "admin/analytics/top/most-shared", { query: { limit: 10 } }),
    ]);
    if (ctx && ctx.isCurrent && !ctx.isCurrent()) return;
    const plans = [...new Set(overview.days.flatMap((p) => Object.keys(p).filter((k) => k.startsWith("plans."))))].sort();
    const now = overview.now;
    clear(section,
      h("h2", { id: "trends-title" }, `Over the last ${DAYS} days`),
      h("ul", { class: "stats" },
        h("li", {}, h("span", { class: "stat", dataset: { figure: "documents" } }, count(now.documents)), " documents"),
        h("li", {}, h("span", { class: "stat", dataset: { figure: "stored" } }, formatBytes(now.stored_bytes)), " stored"),
        h("li", {}, h("span", { class: "stat", dataset: { figure: "average" } }, formatBytes(now.average_document_bytes)), " average document"),
        Object.entries(now.accounts_by_plan).map(([plan, n]) => h("li", {}, h("span", { class: "stat" }, count(n)), ` ${PLAN_LABEL[plan] || plan} accounts`))),
      h("div", { class: "charts" },
        timeChart("plans", "Accounts by plan", overview.days, plans.map((key) => ({ key, label: PLAN_LABEL[key.slice(6)] || key.slice(6) }))),
        timeChart("system-storage", "Storage", overview.days, [
          { key: "current_bytes", label: "Current versions" }, { key: "old_bytes", label: "Older versions" }, { key: "trash_bytes", label: "Trash" },
        ], { format: formatBytes }),
        timeChart("system-transfers", "Uploads and downloads", overview.days, [
          { key: "uploads", label: "Uploads" }, { key: "downloads", label: "Downloads" }, { key: "link_downloads", label: "Link downloads" },
        ]),
        timeChart("failures", "Index and preview failures", overview.days, [
          { key: "index_failures", label: "Index failures" }, { key: "preview_failures", label: "Preview failures" },
        ])),
      h("p", {}, exportButton("series", "Export the daily figures (CSV)")),
      h("h3", {}, "Documents by type"),
      h("ul", { class: "stats" }, Object.entries(now.documents_by_type).map(([type, n]) => h("li", { dataset: { type } }, h("span", { class: "stat" }, count(n)), ` ${type}`))),
      topTable("most-downloaded", "Most-downloaded documents", downloaded.documents),
      topTable("most-shared", "Most-shared documents", shared.documents));
  } catch (error) {
    clear(section, h("h2", { id: "trends-title" }, "Over time"), h("p", { class: "error-text" }, error.message));
  }
}

function topTable(id, title, rows) {
  return h("div", { class: "top-documents" },
    h("h3", {}, title),
    rows.length
      ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": title }, h("table", { dataset: { top: id } },
        h("caption", { class: "visually-hidden" }, title),
        h("thead", {}, h("tr", {}, ["Document id", "Owner", "Downloads", "Link downloads", "Shares"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows.map((r) => h("tr", { dataset: { documentId: r.document_id } },
          h("td", { class: "mono" }, r.document_id),
          h("td", {}, h("a", { href: `#/admin?account=${encodeURIComponent(r.owner)}`, class: "mono" }, r.owner)),
          h("td", { class: "num" }, count(r.downloads)), h("td", { class: "num" }, count(r.link_downloads)), h("td", { class: "num" }, count(r.shares)))))))
      : h("p", { class: "empty" }, "None yet."),
    h("p", {}, exportButton(id, `Export ${title.toLowerCase()} (CSV)`)));
}

/** A CSV export: fetched with the session's token (an audit record each), saved as a file. */
function exportButton(table, label) {
  return h("button", {
    type: "button", class: "small", dataset: { export: table },
    onclick: (e) => busy(e.currentTarget, async () => {
      const text = await api("GET", `admin/analytics/export/${table}`, { query: { days: DAYS } });
      const url = URL.createObjectURL(new Blob([String(text)], { type: "text/csv" }));
      const link = h("a", { href: url, download: `docstore-${table}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      announce("Export downloaded; it is recorded in the audit trail.");
    }),
  }, label);
}
