// A CloudWatch-style log viewer: every function's log group, its streams (one per execution environment),
// a live tail, a text filter, ERROR lines highlighted, START/END/REPORT set apart. The newest 200 lines are
// read once (earlier ones on demand); new lines of every group arrive with the change feed, each naming its
// group, and are filtered here as the server filters (nothing is polled).
import { getJSON } from "./api.js";
import { $, el, clear, fmtTime, showBanner } from "./dom.js";
import { LiveList } from "./feed.js";
import { logLine, streamLabel } from "./log_lines.js";

const PAGE = 200;
const MAX_LINES = 3000;
const STREAMS_EVERY_MS = 1000; // the stream list (environments' states) is read at most once a second
let ctx;
let group = ""; // the log group shown ("" until init: the default function's)
let stream = ""; // "" = all streams
let filter = "";
let lastSeq = 0;
let earlier = null; // sequence number before which earlier lines can be read; null: none
let earlierBusy = false;
let streamsTimer = null;
let streamsAt = 0;
const live = new LiveList(loadFirst, applyFrame, "#logs-error");
export const topic = "logs";

export function init(context) {
  ctx = context;
  group = ctx.logGroup;
  $("#log-group").addEventListener("change", (event) => {
    group = event.target.value;
    stream = "";
    reload();
    loadStreams();
  });
  let timer = null;
  $("#log-filter").addEventListener("input", (event) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      filter = event.target.value.trim();
      reload();
    }, 250);
  });
  $("#log-live").addEventListener("change", (event) => {
    if (event.target.checked) reload(); // catch up with what arrived while paused
  });
  $("#log-bottom").addEventListener("click", () => scrollToBottom());
  $("#log-earlier").addEventListener("click", loadEarlier);
}

export function show() {
  live.show();
  loadGroups();
  refreshStreams();
}

// The log-group picker: every function's group (the default function's first).
async function loadGroups() {
  let data;
  try {
    data = await getJSON("/api/logs/groups");
  } catch (err) {
    return; // the picker keeps the groups it has
  }
  const select = $("#log-group");
  clear(select);
  for (const g of data.groups) select.append(el("option", { value: g.group, text: g.group }));
  if (!data.groups.some((g) => g.group === group)) select.append(el("option", { value: group, text: group }));
  select.value = group;
}

export function hello(message) {
  live.hello(message);
}

export function frame(message) {
  const changed = message.changes || {};
  if (message.logs) live.frame(message);
  if (((message.streams && message.streams.length) || changed.invocations) && ctx.visible("logs")) refreshStreams();
}

// The lines of one request in its own function's log group (and stream, when known).
export function showRequest(requestId, where = {}) {
  $("#log-filter").value = requestId;
  filter = requestId;
  group = where.group || ctx.logGroup;
  stream = where.stream || "";
  const select = $("#log-group");
  if (![...select.options].some((o) => o.value === group)) select.append(el("option", { value: group, text: group }));
  select.value = group;
  ctx.showTab("logs");
  reload();
  loadStreams();
}

// One group's lines, every stream, no filter (the Functions tab's links).
export function showGroup(name) {
  $("#log-filter").value = "";
  filter = "";
  showRequest("", { group: name });
}

function reload() {
  live.refresh();
}

function query(params) {
  const q = new URLSearchParams(params);
  if (group) q.set("group", group);
  if (stream) q.set("stream", stream);
  if (filter) q.set("filter", filter);
  return `/api/logs/events?${q.toString()}`;
}

async function loadFirst() {
  const data = await getJSON(query({ limit: PAGE }));
  clear($("#log-view"));
  lastSeq = data.last_seq;
  earlier = data.next_before;
  appendEvents(data.events, true);
  return data.seq;
}

function matches(event) {
  return event.group === group && (!stream || event.stream === stream) && (!filter || event.message.toLowerCase().includes(filter.toLowerCase()));
}

function applyFrame(message) {
  if (!$("#log-live").checked) return; // paused: ticking the box again reads what was missed
  const fresh = message.logs.filter((event) => event.seq > lastSeq);
  if (!fresh.length) return;
  lastSeq = fresh[fresh.length - 1].seq;
  appendEvents(fresh.filter(matches), false);
}

async function loadEarlier() {
  if (earlierBusy || earlier === null || live.state !== "ready") return;
  earlierBusy = true;
  try {
    const data = await getJSON(query({ limit: PAGE, before: earlier }));
    const view = $("#log-view");
    const height = view.scrollHeight;
    const fragment = document.createDocumentFragment();
    for (const event of data.events) fragment.append(logLine(event, { showStream: !stream }));
    view.prepend(fragment);
    view.scrollTop += view.scrollHeight - height; // the lines the reader was looking at stay in place
    earlier = data.next_before;
    updateStatus();
  } catch (err) {
    showBanner("#logs-error", err.message);
  } finally {
    earlierBusy = false;
  }
}

function appendEvents(events, initial) {
  const view = $("#log-view");
  const atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const event of events) fragment.append(logLine(event, { showStream: !stream }));
  view.append(fragment);
  if (view.children.length > MAX_LINES) {
    while (view.children.length > MAX_LINES) view.firstElementChild.remove();
    earlier = Number(view.firstElementChild.dataset.seq); // the removed lines can be read again
  }
  updateStatus();
  if (initial || atBottom) scrollToBottom();
}

function updateStatus() {
  const count = $("#log-view").children.length;
  $("#log-status").textContent = count
    ? `${count} event${count === 1 ? "" : "s"}${filter ? " matching the filter" : ""}`
    : filter ? "No events match the filter." : "No events yet.";
  // said in the empty viewer too, where the class looks
  $("#log-view").dataset.empty = filter ? "No events match the filter." : `No events in ${group} yet.`;
  $("#log-earlier").hidden = earlier === null;
}

function scrollToBottom() {
  const view = $("#log-view");
  view.scrollTop = view.scrollHeight;
}

// The stream list, read when the tab is shown and then at most once a second while lines and
// invocations arrive (an environment's state changes with them).
function refreshStreams() {
  if (streamsTimer !== null) return;
  const wait = Math.max(0, streamsAt + STREAMS_EVERY_MS - Date.now());
  streamsTimer = setTimeout(() => {
    streamsTimer = null;
    streamsAt = Date.now();
    loadStreams();
  }, wait);
}

async function loadStreams() {
  let data;
  try {
    data = await getJSON(`/api/logs/streams?${new URLSearchParams({ group })}`);
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
      loadStreams();
    });
    list.append(el("li", {}, button));
  };
  entry("", "All streams", `${data.streams.length} stream${data.streams.length === 1 ? "" : "s"}`, null);
  for (const s of data.streams) {
    entry(s.name, streamLabel(s.name), `last event ${fmtTime(s.last)}`, s.state);
  }
}
