// Dead letters: events that failed every attempt, in the function's SQS dead-letter queue, and
// redrive.
import { getJSON, postJSON } from "./api.js";
import { $, $$, el, clear, shortId, showBanner } from "./dom.js";

let lastKey = null;
let busy = false;
let ctx;

export function init(context) {
  ctx = context;
  $("#dlq-all").addEventListener("change", (event) => {
    for (const box of $$("#dlq-body input[type=checkbox]")) box.checked = event.target.checked;
    syncButtons();
  });
  $("#dlq-body").addEventListener("change", syncButtons);
  $("#dlq-redrive-selected").addEventListener("click", () => {
    const ids = $$("#dlq-body input[type=checkbox]:checked").map((box) => box.value);
    redrive(ids);
  });
  $("#dlq-redrive-all").addEventListener("click", () => redrive(null));
}

export function show() {
  load();
}

// The queue is read again when the feed's counters say it changed and the tab is shown.
export function frame(message) {
  const counts = message.counts;
  if (!counts || !ctx.visible("dead-letters")) return;
  const key = `${counts.dead_letter_count}/${counts.dead_lettered}`;
  if (key !== lastKey) {
    lastKey = key;
    load();
  }
}

function syncButtons() {
  const boxes = $$("#dlq-body input[type=checkbox]");
  $("#dlq-redrive-selected").disabled = !boxes.some((box) => box.checked);
  $("#dlq-redrive-all").disabled = boxes.length === 0;
}

async function load() {
  if (busy) return;
  busy = true;
  try {
    const data = await getJSON("/api/dead-letters");
    render(data);
    showBanner("#dlq-error", null);
  } catch (err) {
    showBanner("#dlq-error", err.message);
  } finally {
    busy = false;
  }
}

function render(data) {
  $("#dlq-name").textContent = data.queue;
  const body = $("#dlq-body");
  const checked = new Set($$("#dlq-body input[type=checkbox]:checked").map((box) => box.value));
  clear(body);
  for (const m of data.messages) {
    const box = el("input", { type: "checkbox", value: m.message_id, "aria-label": `Select ${m.message_id}` });
    box.checked = checked.has(m.message_id);
    body.append(el("tr", {},
      el("td", {}, box),
      el("td", { class: "mono", title: m.message_id, text: shortId(m.message_id) }),
      el("td", { class: "mono", title: m.request_id || "", text: shortId(m.request_id) }),
      el("td", { class: "key-cell", title: m.key || "", text: m.key || "(not an S3 event)" }),
      el("td", { class: "error-text", text: m.error_message || "" })));
  }
  $("#dlq-empty").hidden = data.messages.length > 0;
  $("#dlq-all").checked = false;
  syncButtons();
}

async function redrive(ids) {
  const status = $("#dlq-status");
  status.textContent = "Redriving…";
  status.className = "";
  try {
    const data = await postJSON("/api/dead-letters/redrive", ids === null ? {} : { message_ids: ids });
    const n = data.redriven.length;
    status.textContent = `Redrove ${n} event${n === 1 ? "" : "s"}: each is a new asynchronous invocation (see Invocations).`;
    status.className = "ok-text";
    await load();
  } catch (err) {
    status.textContent = err.message;
    status.className = "error-text";
  }
}
