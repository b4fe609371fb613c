// The "Webhooks" page (issue 38): the account's HTTPS endpoints for events on its own documents.
// List them, add one (its signing secret shown this once, with Copy), send a test event, see an
// endpoint's recent deliveries (and replay a dead letter), turn one off or on, delete one.
// Everything goes through the public /v1/webhooks routes (notify's README, "Webhooks").
import { api, apiAll } from "../api.js";
import { announce, busy, clear, confirmDialog, errorNodes, field, h, openDialog, timeElement } from "../ui.js";
import { copyText } from "./links.js";

const EVENTS = [
  ["file.version-recorded", "A version was stored (new document, new version, conflict copy, restore)"],
  ["file.modified", "A document got a new version"],
  ["file.details-changed", "Renamed, moved or re-tagged"],
  ["file.trashed", "Moved to the trash"],
  ["file.restored", "Restored from the trash"],
  ["file.deleted", "Deleted for good"],
  ["share.created", "Shared with another account"],
  ["share.link-used", "A public link handed out a download"],
];

const STATUS_WORDS = {
  pending: "Pending",
  delivered: "Delivered",
  dead: "Failed (no retry left)",
  cancelled: "Cancelled",
};
const REPLAYABLE = new Set(["dead", "cancelled"]);
const DELIVERY_PAGE = 10;

/** A refusal said inside the dialog (the page's alert sits behind a modal). */
function problemBox() {
  return h("p", { class: "form-error error-text", role: "alert", hidden: true });
}

async function inDialog(button, problem, action) {
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

/** The new endpoint's secret, shown this once, with Copy. */
function secretBox(secret) {
  const input = h("input", { type: "text", readonly: true, value: secret, class: "mono", name: "webhook-secret", spellcheck: "false" });
  const result = h("p", { class: "hint", "aria-live": "polite" });
  const copy = h("button", {
    type: "button", class: "primary",
    onclick: async () => {
      const copied = await copyText(secret, input);
      result.textContent = copied ? "Secret copied to the clipboard." : "Could not copy: select the secret and press Ctrl+C (⌘C on a Mac).";
      if (copied) announce("Secret copied.");
    },
  }, "Copy secret");
  input.addEventListener("focus", () => input.select());
  return h("div", { class: "created-link" },
    h("p", {}, h("strong", {}, "Your endpoint is registered. "),
      "Copy its signing secret now: it is shown only this once. Your receiver checks each delivery's webhook-signature with it."),
    h("div", { class: "copy-row" }, field("Signing secret", input), copy),
    result);
}

function addDialog(onAdded) {
  const { body, close } = openDialog("Add a webhook endpoint");
  const url = h("input", { type: "url", name: "webhook-url", required: true, maxlength: "2000", placeholder: "https://hooks.example.com/docstore", autocomplete: "url", inputmode: "url" });
  const description = h("input", { type: "text", name: "webhook-description", maxlength: "200" });
  const boxes = EVENTS.map(([type, label]) => h("input", { type: "checkbox", name: "webhook-event", value: type, checked: true, id: `ev-${type.replace(/\W/g, "-")}` }));
  const events = h("fieldset", { class: "webhook-events" },
    h("legend", {}, "Events to send"),
    EVENTS.map(([type, label], i) => h("div", {},
      boxes[i], " ", h("label", { for: boxes[i].id }, label, " ", h("code", {}, type)))));
  const save = h("button", { type: "submit", class: "primary" }, "Add endpoint");
  const problem = problemBox();
  const form = h("form", { "aria-label": "New webhook endpoint" },
    field("Endpoint URL", url, "An https:// address on the internet; DocStore POSTs each event to it."),
    field("Description (optional)", description),
    events,
    problem,
    h("div", { class: "actions" }, save, h("button", { type: "button", onclick: close }, "Cancel")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    inDialog(save, problem, async () => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!chosen.length) throw new Error("Choose at least one event.");
      const created = await api("POST", "webhooks", { json: { url: url.value.trim(), events: chosen, description: description.value.trim() } });
      clear(body, secretBox(created.secret), h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Done")));
      body.querySelector("button.primary").focus();
      onAdded();
    });
  });
  body.append(form);
  url.focus();
}

/** An endpoint's recent deliveries, newest first, a page at a time; dead letters can be replayed. */
function deliveriesPanel(hook, panelId) {
  const filter = h("select", { name: `deliveries-filter-${hook.id}` },
    h("option", { value: "" }, "All deliveries"),
    h("option", { value: "dead" }, "Failed only (dead letters)"));
  const table = h("div", { class: "table-wrap" });
  const more = h("button", { type: "button", hidden: true }, "Show older");
  const panel = h("div", { id: panelId, class: "webhook-deliveries" },
    h("div", { class: "actions" }, field("Show", filter)),
    table, more);
  let cursor = null;
  let rows = [];

  async function load(reset) {
    if (reset) {
      cursor = null;
      rows = [];
    }
    const page = await api("GET", `webhooks/${encodeURIComponent(hook.id)}/deliveries`, {
      query: { limit: DELIVERY_PAGE, cursor, status: filter.value || undefined },
    });
    rows = rows.concat(page.items);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    clear(table, rows.length ? deliveryTable(rows) : h("p", { class: "muted" }, filter.value ? "No failed deliveries." : "No deliveries yet. Send a test event to see one."));
  }

  function deliveryTable(items) {
    return h("table", { class: "links-table" },
      h("caption", { class: "visually-hidden" }, `Deliveries to ${hook.url}`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Event"),
        h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col", class: "num" }, "Attempts"),
        h("th", { scope: "col" }, "Answer"),
        h("th", { scope: "col" }, "Queued"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, items.map((d) => h("tr", { dataset: { deliveryId: d.id, status: d.status } },
        h("td", { "data-label": "Event" }, h("code", {}, d.event_type)),
        h("td", { "data-label": "Status" }, STATUS_WORDS[d.status] || d.status),
        h("td", { class: "num", "data-label": "Attempts" }, String(d.attempts)),
        h("td", { "data-label": "Answer" },
          d.response_code ? `HTTP ${d.response_code}` : (d.last_error || h("span", { class: "muted" }, "—")),
          d.latency_ms != null ? h("span", { class: "muted small" }, ` · ${d.latency_ms} ms`) : null),
        h("td", { "data-label": "Queued" }, timeElement(d.created_at)),
        h("td", { class: "row-actions" },
          REPLAYABLE.has(d.status) && hook.enabled
            ? h("button", {
              type: "button", class: "small", "aria-label": `Replay ${d.event_type} delivery ${d.id}`,
              onclick: (e) => busy(e.currentTarget, async () => {
                await api("POST", `webhooks/${encodeURIComponent(hook.id)}/deliveries/${encodeURIComponent(d.id)}/replay`);
                announce("Delivery queued again, with the same webhook-id.");
                await load(true);
              }),
            }, "Replay")
            : null)))));
  }

  filter.addEventListener("change", () => busy(null, () => load(true)));
  more.addEventListener("click", (e) => busy(e.currentTarget, () => load(false)));
  return { panel, load };
}

/** One endpoint: what it sends where, its state, and its actions. */
function endpointCard(hook, reload) {
  const titleId = `wh-${hook.id}`;
  const panelId = `wh-deliveries-${hook.id}`;
  const deliveries = deliveriesPanel(hook, panelId);
  deliveries.panel.hidden = true;
  const label = hook.description || hook.url;
  const toggle = h("button", { type: "button", "aria-expanded": "false", "aria-controls": panelId }, "Deliveries");
  toggle.addEventListener("click", (e) => busy(e.currentTarget, async () => {
    const open = deliveries.panel.hidden;
    if (open) await deliveries.load(true);
    deliveries.panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
  }));
  const test = h("button", {
    type: "button", "aria-label": `Send test event to ${label}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      await api("POST", `webhooks/${encodeURIComponent(hook.id)}/test`);
      announce("Test event queued. It shows in the deliveries.");
      if (!deliveries.panel.hidden) await deliveries.load(true);
    }),
  }, "Send test event");
  const onOff = h("button", {
    type: "button", "aria-label": `${hook.enabled ? "Turn off" : "Turn on"} ${label}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      await api("PATCH", `webhooks/${encodeURIComponent(hook.id)}`, { json: { enabled: !hook.enabled } });
      announce(hook.enabled ? "Endpoint turned off: nothing is sent to it." : "Endpoint turned on.");
      await reload();
    }),
  }, hook.enabled ? "Turn off" : "Turn on");
  const remove = h("button", {
    type: "button", class: "danger", "aria-label": `Delete ${label}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      if (!(await confirmDialog("Delete this endpoint?", `Nothing more is sent to ${hook.url}, and its delivery log goes too.`, "Delete endpoint"))) return;
      await api("DELETE", `webhooks/${encodeURIComponent(hook.id)}`);
      announce("Endpoint deleted.");
      await reload();
    }),
  }, "Delete");
  return h("section", { class: "card webhook", "aria-labelledby": titleId, dataset: { webhookId: hook.id } },
    h("div", { class: "section-head" },
      h("h2", { id: titleId, class: "mono", style: { overflowWrap: "anywhere", fontSize: "1rem" } }, hook.url),
      h("span", { class: `link-state ${hook.enabled ? "link-active" : "link-revoked"}` }, hook.enabled ? "On" : "Off")),
    hook.description ? h("p", {}, hook.description) : null,
    h("p", { class: "muted" }, "Sends: ", hook.events.join(", ")),
    hook.enabled ? null : h("p", { class: "error-text" }, "Turned off", hook.disabled_reason ? `: ${hook.disabled_reason}` : "", ". Fix the receiver, send a test event, then turn it on and replay what failed."),
    h("div", { class: "actions" }, test, toggle, onOff, remove),
    deliveries.panel);
}

export async function webhooksView(main, params, ctx) {
  const list = h("div", { class: "webhook-list" });
  const add = h("button", { type: "button", class: "primary", onclick: () => addDialog(() => busy(null, load)) }, "Add endpoint…");
  clear(main,
    h("div", { class: "view-head" }, h("h1", {}, "Webhooks"), add),
    h("p", { class: "muted" },
      "DocStore POSTs events on your own documents to your HTTPS endpoints, signed by the Standard Webhooks convention, and retries for a day when one fails."),
    list);

  async function load() {
    const hooks = await apiAll("webhooks", { limit: 100, maxPages: 1 });
    if (!ctx.isCurrent()) return;
    clear(list, hooks.length
      ? hooks.map((hook) => endpointCard(hook, load))
      : h("p", { class: "empty" }, "No endpoints yet. Add one to have your own program told when your documents change."));
  }
  await load();
}
