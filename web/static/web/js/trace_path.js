// One invocation's path across services, drawn: the hops of its trace in the order they began (the
// request or write that started it, the event source's hops, Lambda's queue, environment, handler and the
// SDK calls it made, REPORT), each with its duration and a bar on the trace's time line, as X-Ray's trace
// view shows a trace. Read once when opened; every name, key and detail is set as text.
import { getJSON } from "./api.js";
import { $, el, clear, fmtMs, shortId } from "./dom.js";

let dialog = null;
let opened = null; // {requestId, attempt}

export function styles() {
  if (document.querySelector('link[data-traces-css]')) return;
  const css = new URL("../css/traces.css", import.meta.url);
  document.head.append(el("link", { rel: "stylesheet", href: css.href, dataset: { tracesCss: "1" } }));
}

function build() {
  styles();
  const close = el("button", { class: "button", type: "button", id: "path-close", text: "Close" });
  const refresh = el("button", { class: "button", type: "button", id: "path-refresh", text: "Read again" });
  dialog = el("dialog", { id: "path-dialog", class: "path-dialog", "aria-labelledby": "path-title" },
    el("header", {},
      el("h2", { id: "path-title", text: "Path" }),
      el("span", { id: "path-trace", class: "muted small mono" }),
      refresh, close),
    el("div", { class: "path-body" },
      el("p", { class: "hint", text: "Every hop that carried this invocation's trace id, in the order it began, with a bar on the trace's time line. Indented: the handler's SDK calls (botocore sends _X_AMZN_TRACE_ID as X-Amzn-Trace-Id)." }),
      el("p", { id: "path-note", class: "hint path-note", hidden: true }),
      el("ol", { id: "path-chain", class: "path-chain", "aria-label": "The path in one line" }),
      el("ol", { id: "path-hops", class: "path-hops", "aria-label": "Hops with their timings" })));
  close.addEventListener("click", () => dialog.close());
  refresh.addEventListener("click", () => opened && read(opened.requestId, opened.attempt));
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  document.body.append(dialog);
}

export function showPath(requestId, attempt) {
  if (!dialog) build();
  opened = { requestId, attempt };
  $("#path-title").textContent = `Path of request ${shortId(requestId)} · attempt ${attempt}`;
  clear($("#path-hops"));
  clear($("#path-chain"));
  if (!dialog.open) dialog.showModal();
  return read(requestId, attempt);
}

async function read(requestId, attempt) {
  let data;
  const note = $("#path-note");
  try {
    data = await getJSON(`/api/traces/invocations/${encodeURIComponent(requestId)}/${Number(attempt)}`);
  } catch (err) {
    note.hidden = false;
    note.textContent = err.message;
    return;
  }
  if (!opened || opened.requestId !== requestId || opened.attempt !== attempt) return;
  $("#path-trace").textContent = data.trace_id ? `trace ${data.trace_id}` : "";
  const notes = [data.note, data.final ? null : "This attempt is not over yet: read again for the hops still to come."].filter(Boolean);
  note.hidden = !notes.length;
  note.textContent = notes.join(" ");
  draw(data);
}

const SERVICE_CLASS = { "S3": "s3", "SQS": "sqs", "DynamoDB": "ddb", "DynamoDB Streams": "ddb", "API Gateway": "api", "Lambda": "lambda", "EventBridge": "events", "SNS": "sns" };

function label(hop) {
  return `${hop.operation}`;
}

function draw(data) {
  const hops = data.hops;
  const chain = $("#path-chain");
  const list = $("#path-hops");
  clear(chain);
  clear(list);
  if (!hops.length) return;
  const t0 = Math.min(...hops.map((h) => h.start));
  const t1 = Math.max(...hops.map((h) => h.end));
  const span = Math.max(t1 - t0, 0.001);
  for (const hop of hops) {
    const mine = !hop.request_id || hop.request_id === data.request_id;
    const kind = SERVICE_CLASS[hop.service] || "other";
    chain.append(el("li", { class: `chain-step svc-${kind}${hop.failed ? " failed" : ""}${mine ? "" : " other"}`, title: `${hop.service} ${hop.operation} ${hop.resource}` },
      el("span", { class: "chain-op", text: label(hop) }),
      hop.caller ? null : el("span", { class: "chain-svc", text: ` (${hop.service})` })));
    const bar = el("span", { class: "hop-bar-fill" });
    bar.style.left = `${((hop.start - t0) / span) * 100}%`;
    bar.style.width = `${Math.max(((hop.end - hop.start) / span) * 100, 0.4)}%`;
    const attempt = hop.attempt && hop.request_id === data.request_id && hop.attempt !== data.attempt ? ` · attempt ${hop.attempt}` : "";
    const otherRequest = hop.request_id && hop.request_id !== data.request_id ? ` · request ${shortId(hop.request_id)}` : "";
    list.append(el("li", {
      class: `hop svc-${kind}${hop.caller ? " within" : ""}${hop.failed ? " failed" : ""}${mine ? "" : " other"}`,
      dataset: { operation: hop.operation, service: hop.service },
    },
      el("span", { class: "hop-service", text: hop.service }),
      el("span", { class: "hop-main" },
        el("span", { class: "hop-op", text: hop.operation }),
        el("span", { class: "hop-resource mono", text: hop.resource, title: hop.resource }),
        hop.detail || attempt || otherRequest ? el("span", { class: "hop-detail", text: `${hop.detail}${attempt}${otherRequest}` }) : null),
      el("span", { class: `hop-outcome${hop.failed ? " bad" : ""}`, text: hop.outcome === "ok" ? "" : hop.outcome }),
      el("span", { class: "hop-ms", text: fmtMs(hop.duration_ms, hop.duration_ms < 10 ? 1 : 0) }),
      el("span", { class: "hop-bar", "aria-hidden": "true" }, bar)));
  }
}
