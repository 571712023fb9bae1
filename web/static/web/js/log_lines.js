// One CloudWatch log event as a row, as the console's log viewer shows it: its time, then its message;
// platform lines (INIT_START, START, END, REPORT, INIT_REPORT) with their tab-separated fields apart, and
// [ERROR] lines marked. Used by the Logs tab, an invocation's detail and a gallery pair's log lines.
import { el, append, fmtTime } from "./dom.js";

export function streamLabel(name) {
  // 2026/11/27/[$LATEST]e28d5e5ac517bc264dd732bc67936e60 -> [$LATEST]e28d5e5a…
  const match = /(\[[^\]]*\])([0-9a-f]{8})[0-9a-f]*$/.exec(name || "");
  return match ? `${match[1]}${match[2]}…` : name || "";
}

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
