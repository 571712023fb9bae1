// The page: tabs, and the change feed. Nothing is polled: the server pushes what changed (feed.js) and
// each tab applies it to what it shows; a tab reads its first page when it is first shown.
import { $, $$ } from "./dom.js";
import { connectFeed, onFeed } from "./feed.js";
import * as gallery from "./gallery.js";
import * as upload from "./upload.js";
import * as invocations from "./invocations.js";
import * as logs from "./logs.js";
import * as configuration from "./configuration.js";
import * as cost from "./cost.js";
import * as deadLetters from "./dead_letters.js";

const body = document.body;
const ctx = {
  maxUploadBytes: Number(body.dataset.maxUploadBytes),
  maxUploadText: body.dataset.maxUploadText,
  sourceBucket: body.dataset.sourceBucket,
  destinationBucket: body.dataset.destinationBucket,
  functionName: body.dataset.functionName,
  logGroup: body.dataset.logGroup,
  counts: null,
  activeTab: null,
  showTab,
  visible: (name) => ctx.activeTab === name && !document.hidden,
};

const tabs = {
  gallery,
  invocations,
  logs,
  configuration,
  cost,
  "dead-letters": deadLetters,
};

function showTab(name) {
  if (!tabs[name]) name = "gallery";
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  ctx.activeTab = name;
  for (const link of $$(".tabs [data-tab]")) {
    const active = link.dataset.tab === name;
    link.classList.toggle("active", active);
    link.setAttribute("aria-selected", active ? "true" : "false");
  }
  for (const panel of $$(".tab-panel")) panel.hidden = panel.id !== `tab-${name}`;
  if (tabs[name].show) tabs[name].show();
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
  node.textContent = n ? String(n) : "";
  node.hidden = !n;
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
    setCounts(message.frame.counts);
    for (const module of Object.values(tabs)) if (module.frame) module.frame(message.frame);
  }
});

function start() {
  for (const module of [...Object.values(tabs), upload]) if (module.init) module.init(ctx);
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && tabs[ctx.activeTab].show) tabs[ctx.activeTab].show();
  });
  showTab(location.hash.slice(1) || "gallery");
  connectFeed();
}

start();
