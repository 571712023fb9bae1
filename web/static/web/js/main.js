// The page: tabs, and the change feed. Nothing is polled: the server pushes what changed (feed.js) and
// each tab applies it to what it shows; a tab reads its first page when it is first shown. Only the
// gallery's code loads with the page; another tab's module is fetched the first time it is shown.
import { $, $$, setText } from "./dom.js";
import { connectFeed, needTopic, onFeed } from "./feed.js";
import * as gallery from "./gallery.js";
import * as upload from "./upload.js";

const body = document.body;
const ctx = {
  maxUploadBytes: Number(body.dataset.maxUploadBytes),
  maxUploadText: body.dataset.maxUploadText,
  sourceBucket: body.dataset.sourceBucket,
  destinationBucket: body.dataset.destinationBucket,
  functionName: body.dataset.functionName,
  functionCount: Number(body.dataset.functionCount),
  logGroup: body.dataset.logGroup,
  counts: null,
  activeTab: null,
  showTab,
  // The Logs tab filtered to one request in its own log group and stream ("Open in the log viewer").
  showRequest: (requestId, where) => load("logs").then((logs) => logs.showRequest(requestId, where)),
  // The Logs tab showing one function's log group (the Functions tab's links).
  showGroup: (group) => load("logs").then((logs) => logs.showGroup(group)),
  // One invocation's path across services (the Invocations tab's and the pair view's "Path").
  showPath: (requestId, attempt) => import("./trace_path.js").then((m) => m.showPath(requestId, attempt)),
  visible: (name) => ctx.activeTab === name && !document.hidden,
};

const tabs = { gallery }; // the modules loaded so far, by tab
const later = {
  functions: () => import("./functions.js"),
  invocations: () => import("./invocations.js"),
  test: () => import("./test_tab.js"),
  logs: () => import("./logs.js"),
  configuration: () => import("./configuration.js"),
  cost: () => import("./cost.js"),
  monitor: () => import("./monitor.js"),
  "dead-letters": () => import("./dead_letters.js"),
  "service-map": () => import("./service_map.js"),
};
const loading = {};

function load(name) {
  if (tabs[name]) return Promise.resolve(tabs[name]);
  if (!loading[name]) {
    // The Invocations tab opens rows in the log viewer: its module comes with the viewer's.
    const needs = name === "invocations" ? load("logs") : Promise.resolve();
    loading[name] = needs.then(() => later[name]()).then((module) => {
      if (module.init) module.init(ctx);
      tabs[name] = module;
      return module;
    });
  }
  return loading[name];
}

function showTab(name) {
  if (!tabs[name] && !later[name]) name = "gallery";
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  ctx.activeTab = name;
  for (const link of $$(".tabs [data-tab]")) {
    const active = link.dataset.tab === name;
    link.classList.toggle("active", active);
    link.setAttribute("aria-selected", active ? "true" : "false");
  }
  for (const panel of $$(".tab-panel")) panel.hidden = panel.id !== `tab-${name}`;
  load(name).then(async (module) => {
    if (module.topic) await needTopic(module.topic); // the stream carries this list before it is read
    if (ctx.activeTab === name && module.show) module.show();
  });
}

function setLive(ok) {
  const live = $("#live");
  live.classList.toggle("down", !ok);
  live.textContent = ok ? "live" : "reconnecting…";
  live.title = ok ? "Changes are pushed to this page as they happen."
    : "The page lost its connection to the sandbox; it reconnects by itself. Is run_local.py still running?";
}

function setCount(id, n) {
  const node = $(id);
  setText(node, n ? String(n) : "");
  if (node.hidden !== !n) node.hidden = !n;
}

function setCounts(counts) {
  if (!counts) return;
  ctx.counts = counts;
  setCount("#count-invocations", counts.invocations);
  setCount("#count-dead-letters", counts.dead_letter_count);
}

onFeed((message) => {
  if (message.type === "up" || message.type === "down") {
    setLive(message.type === "up");
  } else if (message.type === "hello") {
    setCounts(message.hello.counts);
    for (const module of Object.values(tabs)) if (module.hello) module.hello(message.hello);
  } else if (message.type === "frame") {
    const frame = JSON.parse(message.data);
    setCounts(frame.counts);
    for (const module of Object.values(tabs)) if (module.frame) module.frame(frame);
  }
});

// Presenter: larger type for the back row of a classroom, remembered by this browser.
function presenter() {
  const box = $("#presenter");
  const apply = (on) => document.documentElement.classList.toggle("presenter", on);
  box.checked = localStorage.getItem("sandbox-presenter") === "1";
  apply(box.checked);
  box.addEventListener("change", () => {
    localStorage.setItem("sandbox-presenter", box.checked ? "1" : "0");
    apply(box.checked);
  });
}

function start() {
  presenter();
  for (const module of [gallery, upload]) module.init(ctx);
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  document.addEventListener("visibilitychange", () => {
    const module = tabs[ctx.activeTab];
    if (!document.hidden && module && module.show) module.show();
  });
  // A sandbox running more than the guide's function opens on its Functions list.
  showTab(location.hash.slice(1) || (ctx.functionCount > 1 ? "functions" : "gallery"));
  // The feed connects once the gallery is painted (its worker and stream would compete with the first
  // paint for the CPU); the gallery then catches up with anything newer than what it read.
  const fallback = new Promise((resolve) => setTimeout(resolve, 1000));
  Promise.race([ctx.activeTab === "gallery" ? gallery.firstPaintDone : Promise.resolve(), fallback]).then(connectFeed);
}

start();
