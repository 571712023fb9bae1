// Applications made from templates (run_local.py --template, aws cloudformation deploy), grouped by stack
// as the CloudFormation console groups them: each stack's functions with their triggers, and its Outputs
// (AWS's URLs made local: https://abc.execute-api.us-east-1.amazonaws.com/Prod/ is served here as
// http://abc.execute-api.localhost:4566/Prod/). Read from /api/applications when the Configuration tab
// is shown; an output or a route becomes a link only when the server says it is an http(s) URL.
import { getJSON } from "./api.js";
import { $, el, clear, fmtTime, showBanner } from "./dom.js";

const TRIGGER_NAMES = {
  S3: "S3", SQS: "SQS queue", DynamoDB: "DynamoDB stream", Schedule: "EventBridge rule",
  ScheduleV2: "EventBridge Scheduler", Api: "REST API", HttpApi: "HTTP API",
};

export async function loadApplications() {
  let data;
  try {
    data = await getJSON("/api/applications");
  } catch (err) {
    showBanner("#applications-error", err.message);
    return;
  }
  showBanner("#applications-error", null);
  const box = $("#applications");
  clear(box);
  for (const application of data.applications) box.append(applicationNode(application));
  $("#applications-empty").hidden = data.applications.length > 0;
}

function link(url, text = url) {
  // The server sends only http(s) URLs as links; checked again here, since an href is followed.
  if (!/^https?:\/\//i.test(url || "")) return el("span", { class: "mono", text });
  return el("a", { class: "mono", href: url, target: "_blank", rel: "noopener noreferrer", text });
}

function statusClass(status) {
  if (/_COMPLETE$/.test(status) && !/ROLLBACK|DELETE/.test(status)) return "badge badge-success";
  if (/FAILED|ROLLBACK/.test(status)) return "badge badge-failed";
  return "badge badge-running";
}

function applicationNode(app) {
  const facts = el("dl", { class: "facts-grid app-facts" },
    el("dt", { text: "Template" }), el("dd", { text: app.template || "–" }),
    el("dt", { text: "Made by" }), el("dd", { text: app.origin || "–" }),
    el("dt", { text: "Created" }), el("dd", { text: app.created ? fmtTime(Date.parse(app.created), true) + " UTC" : "–" }));
  const notes = [...(app.warnings || []), ...(app.notes || [])];
  return el("article", { class: "app", dataset: { stack: app.name } },
    el("header", { class: "app-head" },
      el("h3", { class: "app-name", text: app.name }),
      el("span", { class: statusClass(app.status), text: app.status })),
    app.description ? el("p", { class: "app-description", text: app.description }) : null,
    facts,
    el("h4", { text: `Functions (${app.functions.length})` }),
    functionsTable(app.functions),
    el("h4", { text: `Outputs (${app.outputs.length})` }),
    outputsTable(app.outputs),
    notes.length ? el("ul", { class: "app-notes" }, ...notes.map((note) => el("li", { text: note }))) : null,
    resourcesNode(app.resources || []));
}

function functionsTable(functions) {
  if (!functions.length) return el("p", { class: "muted", text: "This template makes no function." });
  const body = el("tbody", {});
  for (const fn of functions) {
    const name = el("td", { class: "app-function" }, el("span", { class: "mono", text: fn.name }));
    if (fn.logical_id !== fn.name) name.append(el("span", { class: "muted small", text: fn.logical_id }));
    if (fn.from) name.append(el("span", { class: "muted small", text: `made by ${fn.from}` }));
    body.append(el("tr", { dataset: { function: fn.name } },
      name,
      el("td", {}, triggerList(fn.triggers || [])),
      el("td", {}, el("span", { class: "mono", text: fn.handler || "–" }), el("span", { class: "muted small block", text: fn.runtime || "" })),
      el("td", { class: "nowrap", text: `${fn.memory_size} MB · ${fn.timeout} s` }),
      el("td", { class: "mono small app-code", text: fn.code || "–" })));
  }
  return el("div", { class: "table-wrap" }, el("table", { class: "data app-functions" },
    el("thead", {}, el("tr", {}, ...["Function", "Triggers", "Handler", "Memory · timeout", "Code"].map((h) => el("th", { text: h })))),
    body));
}

function triggerDetail(t) {
  if (t.type === "Api" || t.type === "HttpApi") return `${t.route} on ${t.source}`;
  if (t.type === "S3") {
    const rules = (t.filter || []).map((r) => `${r.Name} ${r.Value}`);
    return [t.source, (t.events || []).join(", "), ...rules].filter(Boolean).join(" · ");
  }
  if (t.type === "Schedule" || t.type === "ScheduleV2") return `${t.source} · ${t.schedule}`;
  return [t.source, t.batch_size ? `batch ${t.batch_size}` : null].filter(Boolean).join(" · ");
}

function triggerList(triggers) {
  if (!triggers.length) return el("span", { class: "muted", text: "None: invoked through the Lambda API only." });
  return el("ul", { class: "trigger-list" }, ...triggers.map((t) => el("li", { dataset: { type: t.type } },
    el("span", { class: "trigger-type", text: TRIGGER_NAMES[t.type] || t.type }),
    el("span", { class: "trigger-detail", text: triggerDetail(t) }),
    ...(t.urls || []).map((url) => link(url)))));
}

function outputsTable(outputs) {
  if (!outputs.length) return el("p", { class: "muted", text: "The template declares no Outputs." });
  const body = el("tbody", {});
  for (const output of outputs) {
    body.append(el("tr", { dataset: { output: output.key } },
      el("td", { class: "mono", text: output.key }),
      el("td", { class: "app-value" }, output.url ? link(output.url) : el("span", { class: "mono", text: String(output.value ?? "") })),
      el("td", { text: output.description || "" }),
      el("td", { class: "mono", text: output.export || "" })));
  }
  return el("div", { class: "table-wrap" }, el("table", { class: "data app-outputs" },
    el("thead", {}, el("tr", {}, ...["Key", "Value", "Description", "Export"].map((h) => el("th", { text: h })))),
    body));
}

function resourcesNode(resources) {
  const body = el("tbody", {});
  for (const r of resources) {
    body.append(el("tr", {},
      el("td", { class: "mono", text: r.logical_id }),
      el("td", { class: "mono", text: r.type }),
      el("td", { class: "mono app-value", text: r.physical_id || "–" }),
      el("td", { class: "mono", text: r.from || "" })));
  }
  return el("details", { class: "app-resources" },
    el("summary", { text: `Resources (${resources.length})` }),
    el("div", { class: "table-wrap" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, ...["Logical ID", "Type", "Physical ID", "Made by"].map((h) => el("th", { text: h })))),
      body)));
}
