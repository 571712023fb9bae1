// A CloudWatch-style log viewer: streams (one per execution environment), a live tail, a text filter,
// ERROR lines highlighted, START/END/REPORT set apart.
import { getJSON } from "./api.js";
import { $, el, append, clear, fmtTime, showBanner } from "./dom.js";

const MAX_LINES = 3000;
let ctx;
let stream = ""; // "" = all streams
let filter = "";
let lastSeq = 0;
let generation = 0; // bumps when the selection changes, so late answers for the old one are dropped
let loaded = false;
let busy = false;
let streamsVersion = null;
let streamsFetched = 0;

export function init(context) {
  ctx = context;
  let timer = null;
  $("#log-filter").addEventListener("input", (event) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      filter = event.target.value.trim();
      reload();
    }, 250);
  });
  $("#log-live").addEventListener("change", (event) => {
    if (event.target.checked) tail();
  });
  $("#log-bottom").addEventListener("click", () => scrollToBottom());
}

export function streamLabel(name) {
  // 2026/11/27/[$LATEST]e28d5e5ac517bc264dd732bc67936e60 -> [$LATEST]e28d5e5a…
  const match = /(\[[^\]]*\])([0-9a-f]{8})[0-9a-f]*$/.exec(name || "");
  return match ? `${match[1]}${match[2]}…` : name || "";
}

// One log event as a row. Used by the Invocations tab too.
export function logLine(event, { showStream = false } = {}) {
  const classes = ["log-line", `kind-${event.kind}`];
  if (event.platform) classes.push(`platform-${event.platform.toLowerCase()}`);
  const row = el("div", { class: classes.join(" "), dataset: { seq: event.seq } });
  append(row, el("time", { text: fmtTime(event.timestamp_ms), title: `${fmtTime(event.timestamp_ms, true)} UTC` }));
  if (showStream) append(row, el("span", { class: "log-stream", title: event.stream, text: streamLabel(event.stream) }));
  const message = el("span", { class: "log-msg" });
  if (event.platform) {
    // Platform lines are tab-separated fields; show each one apart.
    event.message.replace(/\t+$/, "").split("\t").forEach((part, i) => {
      append(message, el("span", { class: i === 0 ? "field head" : "field", text: part }));
    });
  } else {
    message.textContent = event.message;
  }
  append(row, message);
  return row;
}

export function showRequest(requestId) {
  $("#log-filter").value = requestId;
  filter = requestId;
  stream = "";
  ctx.showTab("logs");
  reload();
}

export async function update(state, { visible, force }) {
  if (!visible) return;
  if (busy && !force) return;
  if (!loaded || force) {
    await reload();
  } else if ($("#log-live").checked && state && state.log_seq > lastSeq) {
    await tail();
  }
  const now = Date.now();
  if (force || (state && state.records_version !== streamsVersion) || now - streamsFetched > 3000) {
    streamsVersion = state ? state.records_version : null;
    streamsFetched = now;
    refreshStreams();
  }
}

function query(params) {
  const q = new URLSearchParams(params);
  if (stream) q.set("stream", stream);
  if (filter) q.set("filter", filter);
  return `/api/logs/events?${q.toString()}`;
}

async function reload() {
  const mine = ++generation;
  busy = true;
  try {
    const data = await getJSON(query({ limit: 1000 }));
    if (mine !== generation) return;
    const view = $("#log-view");
    clear(view);
    lastSeq = data.last_seq;
    loaded = true;
    appendEvents(data.events, true);
    showBanner("#logs-error", null);
  } catch (err) {
    showBanner("#logs-error", err.message);
  } finally {
    if (mine === generation) busy = false;
  }
}

async function tail() {
  if (busy) return;
  const mine = generation;
  busy = true;
  try {
    const data = await getJSON(query({ after: lastSeq, limit: 1000 }));
    if (mine !== generation) return;
    lastSeq = data.last_seq;
    appendEvents(data.events, false);
    showBanner("#logs-error", null);
  } catch (err) {
    showBanner("#logs-error", err.message);
  } finally {
    if (mine === generation) busy = false;
  }
}

function appendEvents(events, initial) {
  const view = $("#log-view");
  const atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const event of events) fragment.append(logLine(event, { showStream: !stream }));
  view.append(fragment);
  while (view.children.length > MAX_LINES) view.firstElementChild.remove();
  const count = view.children.length;
  $("#log-status").textContent = count
    ? `${count} event${count === 1 ? "" : "s"}${filter ? " matching the filter" : ""}`
    : filter ? "No events match the filter." : "No events yet.";
  if (initial || atBottom) scrollToBottom();
}

function scrollToBottom() {
  const view = $("#log-view");
  view.scrollTop = view.scrollHeight;
}

async function refreshStreams() {
  let data;
  try {
    data = await getJSON("/api/logs/streams");
  } catch (err) {
    return;
  }
  const list = $("#stream-list");
  clear(list);
  const entry = (name, label, detail, state) => {
    const button = el("button", { type: "button", class: `stream${stream === name ? " selected" : ""}`, title: name || "All streams" },
      el("span", { class: "stream-name", text: label }),
      detail ? el("span", { class: "stream-detail", text: detail }) : null,
      state ? el("span", { class: `env-state env-${state}`, text: state }) : null);
    button.addEventListener("click", () => {
      stream = name;
      reload();
      refreshStreams();
    });
    list.append(el("li", {}, button));
  };
  entry("", "All streams", `${data.streams.length} stream${data.streams.length === 1 ? "" : "s"}`, null);
  for (const s of data.streams) {
    entry(s.name, streamLabel(s.name), `last event ${fmtTime(s.last)}`, s.state);
  }
}
