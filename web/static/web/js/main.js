// The page: tabs, and one poll of /api/state per second ("anything new?"); each tab fetches its own
// data only when it is shown and something changed.
import { getJSON } from "./api.js";
import { $, $$ } from "./dom.js";
import * as gallery from "./gallery.js";
import * as upload from "./upload.js";
import * as invocations from "./invocations.js";
import * as logs from "./logs.js";
import * as configuration from "./configuration.js";
import * as cost from "./cost.js";
import * as deadLetters from "./dead_letters.js";

const body = document.body;
const ctx = {
  pollMs: Number(body.dataset.pollMs) || 1000,
  maxUploadBytes: Number(body.dataset.maxUploadBytes),
  maxUploadText: body.dataset.maxUploadText,
  sourceBucket: body.dataset.sourceBucket,
  destinationBucket: body.dataset.destinationBucket,
  functionName: body.dataset.functionName,
  logGroup: body.dataset.logGroup,
  state: null,
  activeTab: null,
  showTab,
  refresh,
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
  refresh(name, true);
}

// Ask one tab (or the active one) to bring itself up to date.
function refresh(name = ctx.activeTab, force = false) {
  const module = tabs[name];
  if (module && module.update) module.update(ctx.state, { visible: name === ctx.activeTab, force });
}

function setLive(ok, message) {
  const live = $("#live");
  live.classList.toggle("down", !ok);
  live.textContent = ok ? "live" : "disconnected";
  live.title = ok ? "The page updates every second." : message || "";
}

function setCount(id, n) {
  const node = $(id);
  node.textContent = n ? String(n) : "";
  node.hidden = !n;
}

async function poll() {
  try {
    const state = await getJSON("/api/state");
    ctx.state = state;
    setLive(true);
    setCount("#count-invocations", state.invocations);
    setCount("#count-dead-letters", state.dead_letter_count);
    for (const [name, module] of Object.entries(tabs)) {
      if (module.update) module.update(state, { visible: name === ctx.activeTab, force: false });
    }
  } catch (err) {
    setLive(false, err.message);
  } finally {
    // A page in a background tab only needs to notice it is still connected.
    setTimeout(poll, document.hidden ? Math.max(ctx.pollMs, 5000) : ctx.pollMs);
  }
}

function start() {
  for (const module of [...Object.values(tabs), upload]) if (module.init) module.init(ctx);
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh(ctx.activeTab, true);
  });
  showTab(location.hash.slice(1) || "gallery");
  poll();
}

start();
