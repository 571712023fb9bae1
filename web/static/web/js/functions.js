// Functions: every function of the sandbox, as the console's list (name, runtime, memory, timeout,
// triggers, last invocation, errors, log group). Read when the tab is shown and again when the feed says
// an invocation changed (at most once a second).
import { getJSON } from "./api.js";
import { $, el, clear, fmtNumber, fmtTime, showBanner, wordBreaks } from "./dom.js";

const EVERY_MS = 1000;
let ctx;
let timer = null;
let loadedAt = 0;

export function init(context) {
  ctx = context;
}

export function show() {
  load();
}

export function frame(message) {
  if (!(message.changes && message.changes.invocations) || !ctx.visible("functions") || timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    load();
  }, Math.max(0, loadedAt + EVERY_MS - Date.now()));
}

async function load() {
  loadedAt = Date.now();
  let data;
  try {
    data = await getJSON("/api/functions");
    showBanner("#functions-error", null);
  } catch (err) {
    showBanner("#functions-error", err.message);
    return;
  }
  const body = $("#functions-body");
  clear(body);
  for (const fn of data.functions) body.append(row(fn));
  $("#functions-empty").hidden = data.functions.length > 0;
}

function row(fn) {
  const last = fn.last_invocation;
  const logs = el("button", { class: "link-button", type: "button", title: `${fn.log_group}: open it in the Logs tab` }, "Logs");
  logs.addEventListener("click", () => ctx.showGroup(fn.log_group));
  return el("tr", { dataset: { functionName: fn.function_name } },
    el("td", { class: "fn-cell", title: fn.handler }, wordBreaks(fn.function_name)),
    el("td", { text: fn.runtime }),
    el("td", { class: "num", text: `${fmtNumber(fn.memory_size)} MB` }),
    el("td", { class: "num", text: `${fn.timeout} s` }),
    el("td", { class: "triggers-cell" }, fn.triggers.length ? el("ul", { class: "plain" }, ...fn.triggers.map((t) => el("li", { text: t })))
      : el("span", { class: "muted", text: "none: invoked through the Lambda API" })),
    el("td", { text: last ? `${fmtTime(last.detected_at * 1000)} · ${last.status}` : "never" }),
    el("td", { class: fn.error_count ? "num error-text" : "num", text: String(fn.error_count) }),
    el("td", {}, logs));
}
