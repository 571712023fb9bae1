// A gallery pair, opened, made to be projected: the original and the resized image side by side, fitted
// to the same width (or at 100 %), each with its dimensions and its size as S3 holds it; under them the
// guide's five stages of the newest attempt, and the log lines of the invocations that made the pair
// (START, the handler's lines, END, REPORT; INIT and the SDK's lines folded). Every attempt is shown: S3
// invokes asynchronously and Lambda retries a failed attempt twice, keeping the request id; a redrive of
// the dead-lettered event is a new request.
//
// The lines are read from /api/gallery/logs when a pair is opened, and again when that pair changes while
// it is open (a retry, a redrive): never for the cards, and never for a pair nobody opened. This module
// itself is loaded the first time a pair is opened, so the gallery's first paint does not wait for it.
import { getJSON, objectUrl } from "./api.js";
import { $, el, append, clear, fmtBytes, fmtDims, fmtMs, setClass, setText, shortId } from "./dom.js";
import { streamLabel } from "./log_lines.js";
import { foldedLines, timeline } from "./stages.js";

const UNFINISHED = ["pending", "running", "throttled"];
const TRIGGERS = { s3: "S3 event", redrive: "Redrive", invoke: "Invoke", cli: "Invoke (CLI)" };
const REREADS = 2; // an attempt that has finished but whose REPORT line is not in yet is read again, twice at most

let ctx;
let shown = null; // the item the dialog shows
let reading = false; // a read of the lines is in flight ...
let readAgain = false; // ... and the pair changed meanwhile
let rereads = 0;

export function init(context) {
  ctx = context;
  const dialog = $("#pair-dialog");
  $("#pair-close").addEventListener("click", () => dialog.close());
  $("#pair-zoom").addEventListener("click", () => {
    const images = $("#pair-images");
    const fit = !images.classList.toggle("fit");
    $("#pair-zoom").textContent = fit ? "Fit" : "100 %";
    $("#pair-zoom").setAttribute("aria-pressed", fit ? "true" : "false");
  });
  dialog.addEventListener("click", (event) => {
    if (event.target === event.currentTarget) dialog.close(); // a click on the backdrop
  });
  dialog.addEventListener("close", () => {
    shown = null;
    readAgain = false;
  });
}

// The key of the pair on screen, or null.
export function openKey() {
  return shown && $("#pair-dialog").open ? shown.key : null;
}

export function openPair(item, { toLogs = false } = {}) {
  const dialog = $("#pair-dialog");
  const same = shown && shown.key === item.key;
  shown = item;
  showImages(item, !same);
  if (!same) {
    clear($("#pair-attempts"));
    clear($("#pair-stages"));
    setText($("#pair-stages-which"), "");
    $("#pair-attempts").append(el("p", { class: "muted", text: "Reading the log lines…" }));
    $("#pair-logs").scrollTop = 0;
  }
  if (!dialog.open) dialog.showModal();
  if (toLogs) $("#pair-logs").scrollIntoView({ block: "nearest" });
  rereads = 0;
  readLines();
}

// The gallery heard that a pair changed: if it is the one on screen, show its new state and lines.
export function changed(item) {
  if (!shown || item.key !== shown.key || item.rev === shown.rev || !$("#pair-dialog").open) return;
  shown = item;
  showImages(item, false);
  rereads = 0;
  readLines();
}

// -- the two images ------------------------------------------------------------------------------------
function setSrc(img, url) {
  if (img.getAttribute("src") !== url) img.src = url; // the same URL again would read the image again
}

function showImages(item, fresh) {
  $("#pair-title").textContent = item.key;
  const badge = $("#pair-status");
  setClass(badge, `badge badge-${item.status.replace(/ /g, "-")}`);
  setText(badge, item.status);
  const src = $("#pair-source");
  if (fresh) src.removeAttribute("src");
  setSrc(src, objectUrl(item.source.bucket, item.source.key, item.source.etag));
  src.alt = `Original: ${item.key}`;
  $("#pair-source-caption").textContent = [`Original · s3://${item.source.bucket}/${item.source.key}`,
    fmtDims(item.source.width, item.source.height), fmtBytes(item.source.bytes)].filter(Boolean).join(" · ");
  const resized = item.resized;
  const out = $("#pair-resized");
  if (resized) {
    out.hidden = false;
    if (fresh) out.removeAttribute("src");
    setSrc(out, objectUrl(resized.bucket, resized.key, resized.version));
    out.alt = `Resized: ${resized.key}`;
    $("#pair-resized-caption").textContent = [`Resized · s3://${resized.bucket}/${resized.key}`,
      fmtDims(resized.width, resized.height), fmtBytes(resized.bytes)].filter(Boolean).join(" · ");
  } else {
    out.hidden = true;
    out.removeAttribute("src");
    $("#pair-resized-caption").textContent = `No resized image: ${item.reason || item.status}`;
  }
}

// -- the log lines -------------------------------------------------------------------------------------
async function readLines() {
  if (reading) {
    readAgain = true;
    return;
  }
  reading = true;
  const key = shown.key;
  let data = null;
  let error = null;
  try {
    data = await getJSON(`/api/gallery/logs?key=${encodeURIComponent(key)}`);
  } catch (err) {
    error = err;
  }
  reading = false;
  if (!shown) return; // closed meanwhile
  if (shown.key !== key || readAgain) {
    readAgain = false; // another pair was opened, or this one changed, while the lines were read
    readLines();
    return;
  }
  if (error) {
    showAttempts([el("p", { class: "error-banner", text: error.message })]);
    return;
  }
  showAttempts(attemptNodes(data));
  showObjects(data);
  showStages(data.attempts[data.attempts.length - 1]);
  const last = data.attempts[data.attempts.length - 1];
  if (last && !UNFINISHED.includes(last.status) && last.billed_duration_ms !== null
      && !last.logs.some((line) => line.platform === "REPORT") && rereads < REREADS) {
    rereads += 1;
    setTimeout(() => {
      if (shown && shown.key === key) readLines();
    }, 500);
  }
}

// Sizes as S3 holds the objects now (HeadObject, read with the lines), not as the event told them.
function showObjects(data) {
  const caption = (label, object, dims, fallback) => [label, object ? `s3://${object.bucket}/${object.key}` : null,
    dims, object ? fmtBytes(object.bytes) : fallback].filter(Boolean).join(" · ");
  const item = shown;
  $("#pair-source-caption").textContent = caption("Original", data.source_object,
    fmtDims(item.source.width, item.source.height), "not in S3");
  if (item.resized) {
    $("#pair-resized-caption").textContent = caption("Resized", data.resized_object || item.resized,
      fmtDims(item.resized.width, item.resized.height), null);
  }
}

function showStages(attempt) {
  const box = $("#pair-stages");
  clear(box);
  if (!attempt || !attempt.stages) {
    box.append(el("p", { class: "muted", text: "No invocation of this object is recorded in this session." }));
    return;
  }
  setText($("#pair-stages-which"), `· ${attemptTitle(attempt)} · request ${shortId(attempt.request_id)}`);
  box.append(timeline(attempt.stages));
}

function showAttempts(nodes) {
  const box = $("#pair-attempts");
  const scroller = $("#pair-logs");
  const top = scroller.scrollTop; // a re-read keeps the reader's place
  clear(box);
  append(box, nodes);
  scroller.scrollTop = top;
}

function attemptNodes(data) {
  if (!data.attempts.length) {
    return [el("p", { class: "muted", text: "No invocation of this object is recorded in this session, so it has no log lines here." })];
  }
  const nodes = [];
  const group = data.attempts[0].log_group;
  setText($("#pair-log-group"), group);
  if (data.attempts_left_out) {
    nodes.push(el("p", { class: "hint", text: `${data.attempts_left_out} earlier attempt${data.attempts_left_out === 1 ? "" : "s"} not shown.` }));
  }
  for (const attempt of data.attempts) nodes.push(attemptNode(attempt));
  return nodes;
}

function attemptTitle(a) {
  const how = TRIGGERS[a.trigger] || a.trigger;
  return a.attempt > 1 ? `${how} · attempt ${a.attempt} (retry ${a.retry})` : `${how} · attempt 1`;
}

function attemptNode(a) {
  const status = a.status.replace(/ /g, "-");
  const openLogs = el("button", { class: "link-button", type: "button", text: "Open in the log viewer", title: "All of this request's lines in the Logs tab" });
  openLogs.addEventListener("click", () => {
    $("#pair-dialog").close();
    ctx.showRequest(a.request_id, { group: a.log_group, stream: a.log_stream });
  });
  const openPath = el("button", { class: "link-button", type: "button", text: "Path", title: "This attempt's path across services, with timings" });
  openPath.addEventListener("click", () => ctx.showPath(a.request_id, a.attempt));
  const facts = [
    a.cold_start === null || a.cold_start === undefined ? null
      : el("span", { class: a.cold_start ? "tag cold" : "tag warm", text: a.cold_start ? "cold" : "warm" }),
    el("span", { class: "mono small", title: a.request_id, text: `request ${shortId(a.request_id)}` }),
    a.duration_ms === null ? null : el("span", { class: "small", text: fmtMs(a.duration_ms, 2) }),
    a.log_stream ? el("span", { class: "muted small mono", title: a.log_stream, text: streamLabel(a.log_stream) }) : null,
  ];
  const head = el("header", { class: "attempt-head" },
    el("h4", { class: "attempt-title", text: attemptTitle(a) }),
    el("span", { class: `badge badge-${status}`, text: a.status }),
    ...facts, openLogs, openPath);
  const body = [];
  if (a.error_type || a.error_message) {
    body.push(el("p", { class: "error-banner attempt-error", text: `${a.error_type || "Error"}: ${a.error_message || ""}` }));
  }
  if (a.will_retry) {
    body.push(el("p", { class: "hint attempt-note", text: "This attempt failed and Lambda retries the event: the next attempt keeps the request id." }));
  }
  body.push(linesNode(a));
  return el("section", { class: `attempt status-${status}`, dataset: { requestId: a.request_id, attempt: a.attempt } }, head, ...body);
}

function linesNode(a) {
  const view = el("div", { class: "log-view compact", role: "log", "aria-label": `Log lines of ${attemptTitle(a)}` });
  if (!a.logs.length) {
    const why = a.status === "pending" || a.status === "throttled"
      // AWS waits about a minute before the first retry and two before the second; the sandbox compresses
      // that to 1 and 2 seconds unless it was started with --real-retry-delays.
      ? (a.attempt > 1 ? "Queued: the retry waits (about 1 and then 2 minutes on AWS; seconds here)." : "Queued: the event waits for an execution environment.")
      : a.status === "running" ? "Running…" : "No log lines for this attempt.";
    view.append(el("p", { class: "muted", text: why }));
    return view;
  }
  const head = a.lines_left_out ? a.logs.slice(0, a.lines_left_out_after) : a.logs;
  append(view, foldedLines(head));
  if (a.lines_left_out) {
    view.append(el("p", { class: "log-gap", text: `… ${a.lines_left_out} lines not shown here: the log viewer has them all.` }));
    append(view, foldedLines(a.logs.slice(a.lines_left_out_after)));
  }
  return view;
}
