// Monitor: a function's CloudWatch metrics (AWS/Lambda) as the Lambda console graphs them, drawn here as
// small SVG charts (charts.js). Read when the tab is shown, when the range or the function changes, and
// again when the feed says an invocation changed (at most every 2 s); never on a clock of its own, so
// an idle sandbox costs nothing.
import { getJSON } from "./api.js";
import { $, $$, el, clear, fmtNumber, showBanner } from "./dom.js";
import { chart, fmtValue } from "./charts.js";

const EVERY_MS = 2000; // a class watching a burst: live enough, and cheap for the sandbox serving it
const AFTER_MS = 2000;
const RANGE_TEXT = { "5m": "the last 5 minutes", "1h": "the last hour", session: "this session" };

let ctx;
let range = "5m";
let busy = false;
let again = false;
let timer = null;
let trailing = null;
let loadedAt = 0;

export function init(context) {
  ctx = context;
  for (const button of $$(".mon-ranges [data-range]")) {
    button.addEventListener("click", () => {
      range = button.dataset.range;
      for (const other of $$(".mon-ranges [data-range]")) other.setAttribute("aria-pressed", other === button ? "true" : "false");
      load();
    });
  }
  $("#mon-function").addEventListener("change", () => load());
}

export function show() {
  loadFunctions();
  load();
}

// A frame that tells of changed invocations rereads the graphs (every EVERY_MS at most), and once more
// AFTER_MS after the last such frame: a metric put just after its invocation's change (a destination
// that did not take the record) is then drawn too. Nothing is read while nothing happens.
export function frame(message) {
  if (!(message.changes && message.changes.invocations) || !ctx.visible("monitor")) return;
  clearTimeout(trailing);
  trailing = setTimeout(() => {
    if (ctx.visible("monitor")) load();
  }, AFTER_MS);
  if (timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    load();
  }, Math.max(0, loadedAt + EVERY_MS - Date.now()));
}

async function loadFunctions() {
  let data;
  try {
    data = await getJSON("/api/functions");
  } catch (err) {
    return; // the picker keeps what it had; the graphs still read
  }
  const select = $("#mon-function");
  const chosen = select.value || data.default;
  clear(select);
  for (const fn of data.functions) select.append(el("option", { value: fn.function_name, text: fn.function_name }));
  select.value = chosen;
}

async function load() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  loadedAt = Date.now();
  const params = new URLSearchParams({ range });
  const fn = $("#mon-function").value;
  if (fn) params.set("function", fn);
  try {
    render(await getJSON(`/api/monitor?${params.toString()}`));
    showBanner("#monitor-error", null);
  } catch (err) {
    showBanner("#monitor-error", err.message);
  } finally {
    busy = false;
    if (again) {
      again = false;
      load();
    }
  }
}

function total(graph, data) {
  const first = graph.series[0];
  const t = data.totals[first.metric];
  if (graph.id === "success-rate") {
    const inv = data.totals.Invocations ? data.totals.Invocations.sum : 0;
    const errors = data.totals.Errors ? data.totals.Errors.sum : 0;
    const denominator = Math.max(inv, errors);
    return denominator ? `${fmtNumber(100 - (100 * errors) / denominator, 1)} % over the range` : "";
  }
  if (!t) return "";
  if (graph.kind === "bar") {
    return graph.series.map((s) => `${s.label} ${fmtNumber(data.totals[s.metric] ? data.totals[s.metric].sum : 0)}`).join(" · ");
  }
  return `average ${fmtValue(t.average, graph.unit)} · maximum ${fmtValue(t.maximum, graph.unit)}`;
}

function render(data) {
  const invocations = data.totals.Invocations ? data.totals.Invocations.sum : 0;
  const anything = Object.keys(data.totals).length > 0;
  $("#monitor-empty").hidden = anything;
  const period = data.period >= 60 ? `${data.period / 60} min` : `${data.period} s`;
  $("#mon-status").textContent = `${data.function_name}: ${fmtNumber(invocations)} invocation${invocations === 1 ? "" : "s"} in ${RANGE_TEXT[data.range]}, per ${period}`;
  const box = $("#monitor-graphs");
  clear(box);
  for (const graph of data.graphs) {
    const t = data.totals[graph.series[0].metric];
    const card = el("figure", { class: "mon-card", dataset: { graph: graph.id, total: String(t ? t.sum : 0) } },
      el("figcaption", {},
        el("span", { class: "mon-title", text: graph.title }),
        el("span", { class: "mon-unit", text: graph.unit }),
        el("span", { class: "mon-total", text: total(graph, data) })),
      chart(graph, data.periods, data.period),
      el("p", { class: "mon-desc", text: graph.note || graph.description }));
    box.append(card);
  }
  const start = new Date(data.start * 1000).toISOString().slice(0, 19);
  const end = new Date(data.end * 1000 + 1000).toISOString().slice(0, 19);
  $("#mon-cli").textContent = `aws cloudwatch get-metric-statistics --namespace AWS/Lambda \\
  --metric-name Invocations --dimensions Name=FunctionName,Value=${data.function_name} \\
  --statistics Sum --period ${Math.max(60, data.period)} \\
  --start-time ${start}Z --end-time ${end}Z`;
}
