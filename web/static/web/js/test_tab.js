// Test: the console's Test tab. A function, an event (a trigger's sample event, a saved one, an imported
// file, or typed), and Invoke: a synchronous invocation through the sandbox's Lambda API, shown as its
// result, its log lines (INIT and SDK lines folded), its figures and the guide's five stages.
// Everything the user or the function wrote reaches the page as text (dom.js's el, textContent).
import { getJSON, postJSON } from "./api.js";
import { $, el, append, clear, fmtMs, fmtTime, showBanner } from "./dom.js";
import { foldedLines, timeline } from "./stages.js";

const NAME = /^[A-Za-z0-9_-]{1,25}$/;
let ctx;
let started = false;
let templates = null; // the templates' one read
let busy = false;

export function init(context) {
  ctx = context;
  $("#test-function").addEventListener("change", () => loadSaved());
  $("#test-template").addEventListener("change", pickTemplate);
  $("#test-event").addEventListener("input", () => parsed());
  $("#test-invoke").addEventListener("click", invoke);
  $("#test-save").addEventListener("click", save);
  $("#test-format").addEventListener("click", () => {
    const event = parsed();
    if (event !== undefined) $("#test-event").value = JSON.stringify(event, null, 2);
  });
  $("#test-export").addEventListener("click", exportEvent);
  $("#test-import").addEventListener("change", importEvent);
}

// Every show reads the functions again (one may have been created since); the templates once.
export async function show() {
  try {
    if (!templates) templates = getJSON("/api/test/templates").then(fillTemplates);
    const [functions] = await Promise.all([getJSON("/api/functions"), templates]);
    const picker = $("#test-function");
    const chosen = picker.value || functions.default;
    clear(picker);
    for (const fn of functions.functions) picker.append(el("option", { value: fn.function_name, text: fn.function_name }));
    picker.value = functions.functions.some((f) => f.function_name === chosen) ? chosen : functions.default;
    showBanner("#test-error", null);
  } catch (err) {
    templates = null;
    showBanner("#test-error", err.message);
    return;
  }
  if (!started) parsed();
  started = true;
  await loadSaved();
}

function fillTemplates(data) {
  const kinds = $("#test-template");
  for (const t of data.templates) kinds.append(el("option", { value: t.kind, text: `${t.title} (${t.kind})` }));
}

function fn() {
  return $("#test-function").value;
}

function status(text, bad = false) {
  const node = $("#test-status");
  node.textContent = text || "";
  node.classList.toggle("error-text", bad);
}

// The editor's event, or undefined with the parser's message under the editor.
function parsed() {
  const box = $("#test-event");
  const note = $("#test-json-status");
  try {
    const event = JSON.parse(box.value);
    box.removeAttribute("aria-invalid");
    note.textContent = "Valid JSON.";
    note.className = "test-json-status ok";
    return event;
  } catch (err) {
    box.setAttribute("aria-invalid", "true");
    note.textContent = `Invalid JSON: ${err.message}. Fix it to invoke, save or export.`;
    note.className = "test-json-status error-text";
    return undefined;
  }
}

function nameProblem(name) {
  if (!name) return "Give the event a name: letters, digits, - and _, at most 25 characters.";
  if (name.length > 25) return `The event name is ${name.length} characters long; at most 25 are allowed.`;
  if (!NAME.test(name)) return "The event name may hold only letters, digits, - and _.";
  return null;
}

async function pickTemplate() {
  const kind = $("#test-template").value;
  if (!kind) return;
  try {
    const data = await getJSON(`/api/test/templates/${encodeURIComponent(kind)}`);
    $("#test-event").value = JSON.stringify(data.event, null, 2);
    if (!$("#test-name").value) $("#test-name").value = kind.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 25);
    parsed();
    status(`Template ${kind} loaded: edit it as you like.`);
  } catch (err) {
    status(err.message, true);
  }
}

async function loadSaved(data = null) {
  const name = fn();
  if (!name) return;
  try {
    data = data || await getJSON(`/api/test/events/${encodeURIComponent(name)}`);
  } catch (err) {
    status(err.message, true);
    return;
  }
  const list = clear($("#test-saved-list"));
  for (const item of data.events) {
    list.append(el("li", { dataset: { name: item.name } },
      el("button", { class: "link-button mono", type: "button", title: `Load ${item.name} into the editor`, text: item.name,
        onclick: () => loadEvent(item.name) }),
      el("span", { class: "muted small", text: `saved ${fmtTime(item.saved_at * 1000)} UTC` }),
      el("button", { class: "button small", type: "button", text: "Delete", "aria-label": `Delete ${item.name}`,
        onclick: () => deleteEvent(item.name) })));
  }
  $("#test-saved-empty").hidden = data.events.length > 0;
  $("#test-saved-where").textContent = data.persistent
    ? "(kept in the state directory)" : "(kept in memory until the sandbox stops: start it with --state-dir to keep them)";
}

async function loadEvent(name) {
  try {
    const data = await getJSON(`/api/test/events/${encodeURIComponent(fn())}/${encodeURIComponent(name)}`);
    $("#test-event").value = JSON.stringify(data.event, null, 2);
    $("#test-name").value = data.name;
    $("#test-template").value = "";
    parsed();
    status(`Loaded ${name}.`);
  } catch (err) {
    status(err.message, true);
  }
}

async function deleteEvent(name) {
  try {
    const data = await postJSON(`/api/test/events/${encodeURIComponent(fn())}/${encodeURIComponent(name)}/delete`);
    await loadSaved(data);
    status(`Deleted ${name}.`);
  } catch (err) {
    status(err.message, true);
  }
}

async function save() {
  const name = $("#test-name").value.trim();
  const problem = nameProblem(name);
  if (problem) return status(problem, true);
  const event = parsed();
  if (event === undefined) return status("The event is not valid JSON: nothing was saved.", true);
  try {
    const data = await postJSON(`/api/test/events/${encodeURIComponent(fn())}`, { name, event });
    await loadSaved(data);
    status(`Saved ${name}.`);
  } catch (err) {
    status(err.message, true);
  }
}

function exportEvent() {
  const event = parsed();
  if (event === undefined) return status("The event is not valid JSON: nothing to export.", true);
  const blob = new Blob([`${JSON.stringify(event, null, 2)}\n`], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: `${$("#test-name").value.trim() || fn() || "event"}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  status(`Exported ${link.download}.`);
}

function importEvent() {
  const input = $("#test-import");
  const file = input.files[0];
  input.value = "";
  if (!file) return;
  if (file.size > 6 * 1024 * 1024) return status(`${file.name} is larger than Lambda's 6 MB payload: not imported.`, true);
  file.text().then((text) => {
    try {
      JSON.parse(text);
    } catch (err) {
      status(`${file.name} is not valid JSON (${err.message}): not imported.`, true);
      return;
    }
    $("#test-event").value = text;
    $("#test-name").value = file.name.replace(/\.json$/i, "").replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 25);
    $("#test-template").value = "";
    parsed();
    status(`Imported ${file.name}: save it to keep it.`);
  });
}

async function invoke() {
  if (busy) return;
  const event = parsed();
  if (event === undefined) return status("The event is not valid JSON: fix it to invoke.", true);
  busy = true;
  const button = $("#test-invoke");
  button.disabled = true;
  status(`Invoking ${fn()}…`);
  try {
    const data = await postJSON(`/api/test/invoke/${encodeURIComponent(fn())}`, { event });
    render(data);
    status("");
  } catch (err) {
    status(err.message, true);
  } finally {
    busy = false;
    button.disabled = false;
  }
}

function fact(label, value) {
  return [el("dt", { text: label }), el("dd", { text: value })];
}

function render(d) {
  const box = clear($("#test-result"));
  const ok = d.status === "Succeeded";
  box.append(el("p", { class: "test-outcome" },
    el("span", { class: `badge ${ok ? "badge-success" : "badge-failed"}`, text: d.status }),
    " ", el("span", { class: "muted small", text: `${d.function_name} · request ${d.request_id}` })));
  if (!ok) {
    const error = d.result && typeof d.result === "object" ? d.result : {};
    box.append(el("div", { class: "error-banner test-error-detail" },
      el("strong", { text: error.errorType || d.function_error || "Error" }),
      el("span", { text: `: ${error.errorMessage || d.payload}` })));
  }
  box.append(el("dl", { class: "facts-grid test-figures" },
    fact("Duration", d.duration_ms === undefined ? "–" : fmtMs(d.duration_ms, 2)),
    fact("Billed duration", d.billed_duration_ms == null ? "–" : `${d.billed_duration_ms} ms`),
    fact("Max memory used", d.memory_size_mb == null ? "–" : `${d.max_memory_used_mb ?? "–"} MB of ${d.memory_size_mb} MB`),
    fact("Init duration", d.init_duration_ms == null ? (d.cold_start === false ? "– (warm start)" : "–") : fmtMs(d.init_duration_ms, 2))));
  box.append(el("h3", { text: ok ? "Response" : "Response (the error Lambda returns)" }),
    el("pre", { class: "json test-payload", text: pretty(d) }));
  const open = el("button", { class: "button small", type: "button", text: "Open in the log viewer",
    onclick: () => ctx.showRequest(d.request_id, { group: d.log_group, stream: d.log_stream }) });
  const logs = el("div", { class: "log-view compact test-logs", role: "log", "aria-label": "Log output" });
  append(logs, foldedLines(d.logs || []));
  if (!(d.logs || []).length) logs.append(el("p", { class: "muted", text: "No log lines for this invocation." }));
  box.append(el("div", { class: "section-head" }, el("h3", { text: "Log output" }), open), logs);
  if (d.guide_stages) box.append(el("h3", { text: "The five stages" }), el("div", { class: "test-stages" }, timeline(d.guide_stages)));
  // The outcome in sight: the reader may have scrolled down to the Invoke button.
  const section = box.closest("section");
  if (section.getBoundingClientRect().top < 0) section.scrollIntoView({ block: "start" });
}

function pretty(d) {
  if (d.result === null && d.payload !== "null") return d.payload;
  return JSON.stringify(d.result, null, 2);
}
