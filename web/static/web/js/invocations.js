// Invocations: one row per attempt, newest first: the first 50 read once, older ones on scroll, and
// rows added and updated by the change feed. A row opens to its event, its log lines and the guide's
// five stages with their timings.
import { getJSON } from "./api.js";
import { LiveList } from "./feed.js";
import { $, el, append, clear, fmtBytes, fmtMs, fmtTime, fmtUsd, shortId, showBanner, reader, whenNear, wordBreaks } from "./dom.js";
import { streamLabel } from "./log_lines.js";
import { foldedLines, timeline } from "./stages.js";
import { showRequest } from "./logs.js";

// How each trigger invokes, in the guide's words: who waits for the result, and what retries a failure.
export const TRIGGER_KINDS = {
  s3: { label: "S3 event", how: "async", text: "S3 invoked the function asynchronously with the event notification: it does not wait for the result; Lambda retries a failed attempt twice." },
  sns: { label: "SNS message", how: "async", text: "SNS invoked the function asynchronously with the message published to the topic: it does not wait; Lambda retries a failed attempt twice." },
  sqs: { label: "SQS batch", how: "polled", text: "Lambda's poller read a batch of messages from the queue and invoked the function synchronously; a failed message returns to the queue." },
  dynamodb: { label: "DynamoDB stream batch", how: "polled", text: "Lambda's poller read a batch of stream records and invoked the function synchronously; a failed batch is retried." },
  kinesis: { label: "Kinesis batch", how: "polled", text: "Lambda's poller read a batch of stream records and invoked the function synchronously." },
  apigateway: { label: "API request", how: "sync", text: "API Gateway invoked the function synchronously with the HTTP request and waited for its response." },
  eventbridge: { label: "EventBridge rule", how: "async", text: "An event put on an EventBridge bus matched a rule's pattern; EventBridge invoked the function asynchronously: it does not wait; Lambda retries a failed attempt twice." },
  schedule: { label: "Scheduled event", how: "async", text: "EventBridge invoked the function asynchronously when the schedule fired: nobody waits for the result." },
  redrive: { label: "Redrive", how: "async", text: "The dead-lettered event was sent again: a new asynchronous invocation." },
  invoke: { label: "Lambda API", how: null, text: "" },
  "function-url": { label: "Function URL", how: "sync", text: "A request to the function URL invoked the function synchronously and waited for its response." },
  cli: { label: "run_local.py invoke", how: "sync", text: "run_local.py invoked the function synchronously and waited for its result." },
};

export function triggerKind(inv) {
  const known = TRIGGER_KINDS[inv.trigger] || { label: inv.trigger, how: null, text: "" };
  if (known.how) return known;
  const sync = inv.invocation_type !== "Event";
  return { ...known, how: sync ? "sync" : "async",
    text: sync ? "Invoked synchronously through the Lambda API (Invoke, RequestResponse): the caller waited for the result."
      : "Invoked asynchronously through the Lambda API (Invoke, Event): Lambda queued the event and retries a failed attempt." };
}

const HOW = { sync: "sync", async: "async", polled: "polled" };

const PAGE = 50;
const KEEP = 200; // rows kept while the reader is at the top; older ones are read again on scroll

const rows = new Map(); // id -> {inv, tr}
let order = []; // ids, newest first
let next = null; // serial before which the next page starts; null: every row is shown
let moreBusy = false;
let selected = null; // id of the open row
let detail = null; // {id, tr, final}
const live = new LiveList(loadFirst, applyFrame, "#invocations-error", () => updateEnds());
export const topic = "invocations";

let ctx;
const filters = { fn: "", trigger: "" };

export function init(context) {
  ctx = context;
  for (const [id, name] of [["#inv-filter-function", "fn"], ["#inv-filter-trigger", "trigger"]]) {
    $(id).addEventListener("change", (event) => {
      filters[name] = event.target.value;
      live.refresh(); // the server filters: every matching attempt, paged as the unfiltered list
    });
  }
  $("#invocations-more-button").addEventListener("click", loadMore);
  whenNear($("#invocations-more"), loadMore);
}

export function show() {
  live.show();
}

export function hello(message) {
  live.hello(message);
}

export function frame(message) {
  if (message.invocations) live.frame(message);
}

function listUrl(params) {
  const q = new URLSearchParams(params);
  if (filters.fn) q.set("function", filters.fn);
  if (filters.trigger) q.set("trigger", filters.trigger);
  return `/api/invocations?${q.toString()}`;
}

async function loadFirst() {
  const data = await getJSON(listUrl({ limit: PAGE }));
  for (const id of [...order]) removeRow(id);
  for (const name of data.functions || []) addOption($("#inv-filter-function"), name, name);
  for (const name of data.triggers || []) addOption($("#inv-filter-trigger"), name, triggerKind({ trigger: name }).label);
  for (const inv of data.invocations) upsert(inv, true);
  next = data.next;
  updateEnds();
  return data.seq;
}

function applyFrame(message) {
  for (const inv of message.invocations) upsert(inv, false);
  trim();
  updateEnds();
}

async function loadMore() {
  if (moreBusy || next === null || live.state !== "ready") return;
  moreBusy = true;
  try {
    const data = await getJSON(listUrl({ limit: PAGE, before: next }));
    for (const inv of data.invocations) upsert(inv, true);
    next = data.next;
    showBanner("#invocations-error", null);
  } catch (err) {
    showBanner("#invocations-error", err.message);
  } finally {
    moreBusy = false;
    updateEnds();
  }
}

function shownBy(inv) {
  return (!filters.fn || inv.function_name === filters.fn) && (!filters.trigger || inv.trigger === filters.trigger);
}

// The filters offer every function and the triggers of the attempts kept (and of rows arriving since).
function addOption(select, value, label) {
  if (!value || [...select.options].some((o) => o.value === value)) return;
  select.append(el("option", { value, text: label }));
}

function updateEnds() {
  const filtered = Boolean(filters.fn || filters.trigger);
  const settled = live.state !== "loading";
  $("#invocations-empty").hidden = order.length > 0 || !settled || filtered;
  $("#invocations-none-match").hidden = order.length > 0 || !settled || !filtered;
  $("#invocations-more").hidden = next === null;
}

function trim() {
  if (order.length <= KEEP || reader.scrolledDown) return;
  const last = rows.get(order[KEEP - 1]).inv;
  for (const id of order.slice(KEEP)) removeRow(id);
  next = last.serial;
}

function upsert(inv, read) {
  const row = rows.get(inv.id);
  if (row) {
    const tr = buildRow(inv);
    row.tr.replaceWith(tr);
    row.tr = tr;
    row.inv = inv;
    if (selected === inv.id) refreshDetail(inv);
    return;
  }
  addOption($("#inv-filter-function"), inv.function_name, inv.function_name);
  addOption($("#inv-filter-trigger"), inv.trigger, triggerKind(inv).label);
  if (!shownBy(inv)) return; // the list holds the attempts the filters match only
  const oldest = order.length ? rows.get(order[order.length - 1]).inv : null;
  // Rows older than the last shown belong to pages not read yet, unless every row is shown.
  if (!read && next !== null && !(oldest && inv.serial > oldest.serial)) return;
  let index = 0;
  while (index < order.length && rows.get(order[index]).inv.serial > inv.serial) index += 1;
  const tr = buildRow(inv);
  const body = $("#invocations-body");
  const before = index < order.length ? rows.get(order[index]).tr : null;
  body.insertBefore(tr, before);
  order.splice(index, 0, inv.id);
  rows.set(inv.id, { inv, tr });
}

function removeRow(id) {
  const row = rows.get(id);
  if (!row) return;
  if (selected === id) closeDetail();
  row.tr.remove();
  rows.delete(id);
  order.splice(order.indexOf(id), 1);
}

function statusCell(inv) {
  const cell = el("td", {});
  const box = el("div", { class: "status-cell" },
    el("span", { class: `badge badge-${inv.status.replace(/ /g, "-")}`, text: inv.status }));
  if (inv.retry > 0) append(box, el("span", { class: "badge badge-retry", text: `retry ${inv.retry}` }));
  if (inv.will_retry) append(box, el("span", { class: "muted small", text: "will retry" }));
  cell.append(box);
  if (inv.error_type) cell.title = `${inv.error_type}: ${inv.error_message || ""}`;
  return cell;
}

// The environment that ran the attempt, and whether it was a cold start or a warm one reused.
function startCell(inv) {
  if (inv.cold_start === null || inv.cold_start === undefined) return el("td", { text: "–" });
  return el("td", { title: inv.log_stream || "" },
    el("span", { class: inv.cold_start ? "tag cold" : "tag warm", text: inv.cold_start ? "cold" : "warm" }),
    el("span", { class: "block mono small", text: inv.environment_id || "" }));
}

// The version that ran (X-Amz-Executed-Version), and the alias or version the caller named; none for $LATEST.
function versionText(inv) {
  const ran = inv.executed_version;
  const named = inv.qualifier && inv.qualifier !== ran ? ` via ${inv.qualifier}` : "";
  return ran && ran !== "$LATEST" ? `v${ran}${named}` : named ? `$LATEST${named}` : "";
}

function versionTag(inv) {
  const text = versionText(inv);
  return text ? el("span", { class: "block mono small muted", title: "executed version", text }) : null;
}

// What the invocation is about: the object's key for an S3 event, else the event source's summary.
function subjectText(inv) {
  return inv.key || inv.summary || "–";
}

function triggerCell(inv) {
  const kind = triggerKind(inv);
  return el("td", { class: "trigger-cell", title: kind.text },
    el("span", { class: "block", text: kind.label }), el("span", { class: `tag how-${kind.how}`, text: HOW[kind.how] || "" }));
}

function buildRow(inv) {
  const tr = el("tr", { class: `row${selected === inv.id ? " selected" : ""}`, tabindex: "0", dataset: { requestId: inv.request_id, attempt: inv.attempt } },
    el("td", { class: "nowrap" }, el("span", { class: "block", text: fmtTime(inv.detected_at * 1000) }),
      el("span", { class: "block mono small muted", title: inv.request_id, text: shortId(inv.request_id) })),
    el("td", { class: "fn-cell", title: inv.function_name }, wordBreaks(inv.function_name), versionTag(inv)),
    triggerCell(inv),
    el("td", { class: "key-cell", title: subjectText(inv), text: subjectText(inv) }),
    startCell(inv),
    el("td", { class: "num" }, el("span", { class: "block", text: fmtMs(inv.duration_ms, 2) }),
      inv.billed_duration_ms === null ? null : el("span", { class: "block muted small", text: `billed ${inv.billed_duration_ms} ms` }),
      streamedText(inv) && el("span", { class: "block muted small", title: streamedText(inv), text: `streamed ${fmtBytes(inv.streamed_bytes)}` })),
    el("td", { class: "num" }, el("span", { class: "block", text: inv.max_memory_used_mb === null ? "–" : `${inv.max_memory_used_mb} MB` }),
      inv.memory_size_mb === null ? null : el("span", { class: "block muted small", text: `of ${inv.memory_size_mb} MB` })),
    statusCell(inv),
    el("td", { class: "num", text: fmtUsd(inv.cost_usd) }));
  const toggle = () => {
    if (selected === inv.id) closeDetail();
    else openDetail(inv.id);
  };
  tr.addEventListener("click", toggle);
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      toggle();
    }
  });
  return tr;
}

function closeDetail() {
  if (detail) detail.tr.remove();
  const row = selected && rows.get(selected);
  if (row) row.tr.classList.remove("selected");
  selected = null;
  detail = null;
}

function openDetail(id) {
  closeDetail();
  const row = rows.get(id);
  if (!row) return;
  selected = id;
  row.tr.classList.add("selected");
  refreshDetail(row.inv);
}

const UNFINISHED = ["pending", "running", "throttled"];

async function refreshDetail(inv) {
  const row = rows.get(inv.id);
  if (!row) return;
  if (detail && detail.id === inv.id && detail.final) {
    row.tr.after(detail.tr); // the row was rebuilt: keep its detail under it
    return;
  }
  const node = await detailNode(inv);
  if (selected !== inv.id) return;
  const tr = el("tr", { class: "detail-row" }, el("td", { colspan: 9 }, node));
  if (detail) detail.tr.remove();
  detail = { id: inv.id, tr, final: !UNFINISHED.includes(inv.status) };
  rows.get(inv.id).tr.after(tr);
}

async function detailNode(inv) {
  let data;
  try {
    data = await getJSON(`/api/invocations/${encodeURIComponent(inv.request_id)}/${inv.attempt}`);
  } catch (err) {
    return el("p", { class: "error-banner", text: err.message });
  }
  return buildDetail(data);
}

function kv(label, value) {
  return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined ? "–" : String(value) })];
}

function buildDetail(d) {
  const facts = el("dl", { class: "facts-grid" },
    kv("Request ID", d.request_id),
    kv("Attempt", d.attempt > 1 ? `${d.attempt} (retry ${d.retry})` : "1"),
    kv("Status", d.status),
    kv("Function", d.function_name),
    kv("Executed version", d.executed_version ? `${d.executed_version}${d.qualifier ? ` (invoked as ${d.qualifier})` : ""}` : null),
    kv("Trigger", `${triggerKind(d).label} (${{ sync: "synchronous", async: "asynchronous", polled: "polled batch" }[d.kind] || d.kind})`),
    kv("Source", d.source ? `${d.source}: ${d.summary || ""}` : null),
    ...(d.destination ? kv("Destination", d.destination) : []),
    kv("Start", d.cold_start === null ? "–" : d.cold_start ? "cold" : "warm"),
    kv("Init duration", d.init_duration_ms === null ? "–" : fmtMs(d.init_duration_ms, 2)),
    kv("Duration", fmtMs(d.duration_ms, 2)),
    kv("Billed duration", d.billed_duration_ms === null ? "–" : `${d.billed_duration_ms} ms`),
    kv("Memory", d.memory_size_mb === null ? "–" : `${d.max_memory_used_mb ?? "–"} MB used of ${d.memory_size_mb} MB`),
    kv("Cost", `${fmtUsd(d.cost_usd)}${d.gb_seconds ? ` (${d.gb_seconds.toFixed(6)} GB-s)` : ""}`),
    kv("Environment", d.environment_id),
    kv("Log stream", d.log_stream));

  const kind = triggerKind(d);
  const stages = el("div", {}, el("p", { class: "hint", text: kind.text }), timeline(d.guide_stages));

  const logs = el("div", { class: "log-view compact", role: "log" });
  append(logs, foldedLines(d.logs));
  if (!d.logs.length) logs.append(el("p", { class: "muted", text: "No log lines for this attempt (yet)." }));

  const error = d.error_type || d.error_message
    ? el("p", { class: "error-banner", text: `${d.error_type || "Error"}: ${d.error_message || ""}` }) : null;
  const openLogs = el("button", { class: "button small", type: "button", text: "Open in the log viewer" });
  openLogs.addEventListener("click", (event) => {
    event.stopPropagation();
    showRequest(d.request_id, { group: d.log_group, stream: d.log_stream });
  });
  const openPath = el("button", { class: "button small", type: "button", text: "Path", title: "This invocation's path across services, with timings" });
  openPath.addEventListener("click", (event) => {
    event.stopPropagation();
    ctx.showPath(d.request_id, d.attempt);
  });

  return el("div", { class: "detail", onclick: (event) => event.stopPropagation() },
    error,
    el("div", { class: "detail-grid" },
      el("section", {}, el("h3", { text: "Invocation" }), facts),
      el("section", {}, el("h3", { text: "The five stages" }), stages)),
    el("section", {}, el("div", { class: "section-head" }, el("h3", { text: "Log lines" }), openLogs, openPath,
      d.log_stream ? el("span", { class: "muted small", title: d.log_stream, text: `stream ${streamLabel(d.log_stream)}` }) : null), logs),
    el("div", { class: "detail-grid" },
      el("section", {}, el("h3", { text: "Event" }), el("pre", { class: "json", text: JSON.stringify(d.event, null, 2) })),
      el("section", {}, el("h3", { text: "Result" }), el("pre", { class: "json", text: streamedText(d) || prettyResult(d.result) }))));
}

// A function that streamed its response (awslambda.streamifyResponse) sent bytes, not a result to show.
function streamedText(inv) {
  if (inv.streamed_bytes === null || inv.streamed_bytes === undefined) return null;
  return `Streamed ${fmtBytes(inv.streamed_bytes)} (response streaming)\nto the caller, as the function wrote them`;
}

function prettyResult(result) {
  if (result === null || result === undefined) return "(none yet)";
  if (result && typeof result.body === "string") {
    try {
      return JSON.stringify({ ...result, body: JSON.parse(result.body) }, null, 2);
    } catch (err) {
      /* body is not JSON: show it as it is */
    }
  }
  return JSON.stringify(result, null, 2);
}
