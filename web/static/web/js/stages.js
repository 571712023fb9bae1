// The guide's five stages of one attempt as a timeline: event occurs -> event detected -> Lambda invoked
// in an execution environment -> code runs -> response/result, each with its duration and what happened
// in this attempt (web/stages.py says it). And an attempt's log lines as a class reads them: START, the
// handler's own lines, END and REPORT shown; the INIT phase and the AWS SDK's chatter folded away.
import { el, fmtMs } from "./dom.js";
import { logLine } from "./log_lines.js";

export function timeline(stages) {
  const list = el("ol", { class: "timeline", "aria-label": "The five stages" });
  stages.forEach((stage, i) => {
    const ms = !stage.reached ? "not yet" : stage.ms === null || stage.ms === undefined ? "–" : fmtMs(stage.ms, stage.ms < 10 ? 1 : 0);
    list.append(el("li", { class: stage.reached ? "step" : "step not-reached" },
      el("span", { class: "step-name", text: `${i + 1}. ${stage.stage}` }),
      el("span", { class: "step-ms", text: ms }),
      el("span", { class: "step-note", text: stage.note || "" })));
  });
  return list;
}

// Lines the AWS SDK (boto3, botocore, urllib3) writes while it sets itself up: not what the class wants.
const SDK_LINE = /\b(botocore|boto3|urllib3)\b|Found credentials|Found endpoint|Loading JSON file|Event \S+: calling handler/;

function folded(line, beforeStart) {
  if (line.platform === "INIT_START" || line.platform === "INIT_REPORT") return true;
  if (line.platform || line.kind === "error") return false;
  return beforeStart || SDK_LINE.test(line.message);
}

// Log lines, with the INIT phase and the SDK's lines in a <details> the reader can open where they were.
export function foldedLines(lines) {
  const nodes = [];
  let started = false;
  let fold = null;
  for (const line of lines) {
    if (line.platform === "START") started = true;
    if (folded(line, !started)) {
      if (!fold) {
        fold = { box: el("details", { class: "log-fold" }), count: 0 };
        nodes.push(fold.box);
      }
      fold.box.append(logLine(line));
      fold.count += 1;
      continue;
    }
    if (fold) closeFold(fold);
    fold = null;
    nodes.push(logLine(line));
  }
  if (fold) closeFold(fold);
  return nodes;
}

function closeFold(fold) {
  const what = fold.box.querySelector(".platform-init_start") ? "INIT and SDK" : "SDK";
  fold.box.prepend(el("summary", { text: `${fold.count} ${what} line${fold.count === 1 ? "" : "s"}` }));
}
