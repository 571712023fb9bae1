// Configuration, as the console's Configuration tab: memory, timeout, environment variables (the
// handler's settings, with their defaults), the trigger, the applications made from templates
// (applications.js), every trigger and the execution environments.
import { getJSON, postJSON } from "./api.js";
import { loadApplications } from "./applications.js";
import { $, el, append, clear, fmtNumber, wordBreaks } from "./dom.js";
import { streamLabel } from "./log_lines.js";

const ENVIRONMENTS_EVERY_MS = 1000; // the environments' table is read at most once a second

let ctx;
let current = null; // the last configuration loaded from the server
let dirty = false;
let loadedRevision = null;
let envTimer = null;
let envAt = 0;

export function init(context) {
  ctx = context;
  const form = $("#config-form");
  form.addEventListener("input", () => {
    dirty = true;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("#cfg-reset").addEventListener("click", () => {
    if (current) fillForm(current);
    status("", null);
  });
  $("#cfg-full-cpu").addEventListener("change", (event) => {
    event.stopPropagation();
    saveCpu(event.target.checked);
  });
  $("#cfg-add").addEventListener("click", () => {
    $("#cfg-extra").append(extraRow("", ""));
    dirty = true;
  });
}

export function show() {
  if (!dirty) load();
}

export function hello(message) {
  revisionIs(message.revision);
}

// The configuration changed elsewhere (another page, the Lambda API): read it again, unless the form
// holds unsaved changes. Environments come and go with invocations.
export function frame(message) {
  if (message.revision !== undefined) revisionIs(message.revision);
  if (message.changes && message.changes.invocations && ctx.visible("configuration")) refreshEnvironments();
}

function revisionIs(revision) {
  if (loadedRevision !== null && revision !== loadedRevision && ctx.visible("configuration") && !dirty) load();
}

function refreshEnvironments() {
  if (envTimer !== null) return;
  envTimer = setTimeout(async () => {
    envTimer = null;
    envAt = Date.now();
    try {
      const data = await getJSON("/api/environments");
      renderEnvironments(data.environments);
    } catch (err) {
      /* the next change tries again */
    }
  }, Math.max(0, envAt + ENVIRONMENTS_EVERY_MS - Date.now()));
}

async function load() {
  try {
    const data = await getJSON("/api/config");
    current = data;
    fillForm(data);
  } catch (err) {
    status(err.message, false);
  }
  loadApplications();
  loadTriggers();
}

async function loadTriggers() {
  const body = $("#cfg-triggers");
  let triggers;
  try {
    triggers = (await getJSON("/api/triggers")).triggers;
  } catch (err) {
    return; /* the next load tries again */
  }
  clear(body);
  for (const t of triggers) {
    const now = [];
    if (t.url) now.push(el("a", { href: t.url, target: "_blank", rel: "noopener", text: "open" }));
    if (t.kind === "EventBridge rule" || t.kind === "Scheduler schedule") {
      const fire = el("button", { class: "button small", type: "button", text: "Run now" });
      const [kind, name] = t.source.split(" ");
      fire.addEventListener("click", async () => {
        try {
          const [group, plain] = name.includes("/") ? name.split("/") : [null, name];
          status((await postJSON("/api/triggers/fire", { name: plain, kind, group })).message, true);
        } catch (err) {
          status(err.message, false);
        }
      });
      now.push(fire);
    }
    const extra = [t.last_result && `last result: ${t.last_result}`, t.next_fire && `next: ${t.next_fire}`,
                   t.faults && `sandbox faults: ${t.faults}`]
      .filter(Boolean).join(" · ");
    body.append(el("tr", {},
      el("td", { class: "mono fn-cell" }, t.function ? wordBreaks(t.function) : "–"),
      el("td", { text: t.kind }),
      el("td", { class: "mono", text: t.source }),
      el("td", { text: t.detail + (extra ? ` (${extra})` : "") }),
      el("td", { text: t.state }),
      el("td", {}, ...now)));
  }
}

function fillForm(data) {
  const fn = data.function;
  const limits = data.limits;
  loadedRevision = fn.revision;
  const memory = $("#cfg-memory");
  memory.min = limits.memory_min;
  memory.max = limits.memory_max;
  memory.value = fn.memory_size;
  $("#cfg-memory-hint").textContent = `${fmtNumber(limits.memory_min)}–${fmtNumber(limits.memory_max)} MB. CPU grows with memory: 1,769 MB is one full vCPU.`;
  fillCpu(data.cpu);
  const timeout = $("#cfg-timeout");
  timeout.min = limits.timeout_min;
  timeout.max = limits.timeout_max;
  timeout.value = fn.timeout;
  $("#cfg-timeout-hint").textContent = `${limits.timeout_min}–${limits.timeout_max} seconds (console default 3).`;
  const facts = [
    ["Function", fn.function_name],
    ["Runtime", fn.runtime],
    ["Handler", fn.handler],
    ["Architecture", fn.architecture],
    ["Retry attempts", String(fn.maximum_retry_attempts)],
    ["Dead-letter queue", fn.dead_letter_queue],
    ["Revision", String(fn.revision)],
  ];
  replaceDl($("#cfg-readonly"), facts);

  const env = { ...fn.environment };
  const body = $("#cfg-settings");
  clear(body);
  for (const setting of data.handler_settings) {
    const value = env[setting.name] ?? "";
    delete env[setting.name];
    body.append(settingRow(setting, value));
  }
  if (!data.handler_settings.length) {
    body.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "The handler documents no settings table; use “Other variables”." })));
  }
  const extra = $("#cfg-extra");
  clear(extra);
  for (const [name, value] of Object.entries(env)) extra.append(extraRow(name, value));

  const t = data.trigger;
  $("#cfg-trigger").textContent = `S3 bucket ${t.bucket}, events ${t.events.join(", ")} → ${fn.function_name} → writes to ${fn.environment.DESTINATION_BUCKET || t.destination_bucket}. S3 invokes the function asynchronously (InvocationType Event).`;
  refreshEnvironments(); // every function's, not only this one's
  dirty = false;
}

function replaceDl(container, pairs) {
  clear(container);
  const dl = el("dl", { class: "facts-grid" });
  for (const [k, v] of pairs) append(dl, el("dt", { text: k }), el("dd", { text: v }));
  container.append(dl);
}

function settingRow(setting, value) {
  let input;
  const id = `cfg-env-${setting.name}`;
  if (setting.choices.length) {
    input = el("select", { id, dataset: { env: setting.name } },
      el("option", { value: "", text: `default (${setting.default || "unset"})` }),
      ...setting.choices.map((choice) => el("option", { value: choice, text: choice })));
    input.value = setting.choices.includes(value) ? value : "";
    if (value && !setting.choices.includes(value)) {
      input.append(el("option", { value, text: value }));
      input.value = value;
    }
  } else {
    input = el("input", { id, type: "text", dataset: { env: setting.name }, placeholder: setting.default || "unset", autocomplete: "off", spellcheck: "false" });
    input.value = value;
  }
  return el("tr", {},
    el("td", {}, el("label", { for: id, class: "mono", text: setting.name })),
    el("td", {}, input),
    el("td", { class: "mono", text: setting.default_text || "unset" }),
    el("td", { class: "meaning" },
      setting.allowed ? el("span", { class: "allowed", text: setting.allowed }) : null,
      setting.meaning ? el("span", { class: "muted", text: setting.meaning }) : null));
}

function extraRow(name, value) {
  const key = el("input", { type: "text", class: "extra-key mono", placeholder: "KEY", "aria-label": "Variable name", autocomplete: "off", spellcheck: "false" });
  key.value = name;
  const val = el("input", { type: "text", class: "extra-value", placeholder: "value", "aria-label": "Variable value", autocomplete: "off", spellcheck: "false" });
  val.value = value;
  const remove = el("button", { type: "button", class: "button small", text: "Remove" });
  const row = el("div", { class: "extra-row" }, key, val, remove);
  remove.addEventListener("click", () => {
    row.remove();
    dirty = true;
  });
  return row;
}

function collect() {
  const environment = {};
  for (const input of document.querySelectorAll("#cfg-settings [data-env]")) {
    if (input.value !== "") environment[input.dataset.env] = input.value;
  }
  for (const row of document.querySelectorAll("#cfg-extra .extra-row")) {
    const name = row.querySelector(".extra-key").value.trim();
    const value = row.querySelector(".extra-value").value;
    if (name && value !== "") environment[name] = value;
  }
  return {
    memory_size: $("#cfg-memory").value.trim(),
    timeout: $("#cfg-timeout").value.trim(),
    environment,
  };
}

function status(text, ok) {
  const node = $("#config-status");
  node.textContent = text;
  node.className = ok === null ? "" : ok ? "ok-text" : "error-text";
}

function fillCpu(cpu) {
  $("#cfg-full-cpu").checked = cpu.full_cpu;
  $("#cfg-cpu-hint").textContent = cpuText(cpu) + (cpu.shortfall ? ` Note: ${cpu.shortfall}.` : "");
}

// "7.2 % of one vCPU (AWS gives 128 MB that share); this machine has 2 cores."
export function cpuText(cpu) {
  const share = `${fmtNumber(cpu.vcpu_share * 100, 1)} % of one vCPU`;
  const cores = `this machine has ${cpu.host_cores} core${cpu.host_cores === 1 ? "" : "s"}`;
  if (cpu.full_cpu) {
    return `Full CPU: every environment may use all of this machine's cores, whatever its memory (on AWS ${cpu.memory_mb} MB gets ${share}); ${cores}.`;
  }
  const many = cpu.vcpu_share > 1 ? ` More than one vCPU's worth: it is spread over the ${cpu.vcpus} vCPUs the function sees.` : "";
  return `${share} (AWS gives ${fmtNumber(cpu.memory_mb)} MB that share); ${cores}. INIT runs at full speed, as on AWS.${many}`;
}

async function saveCpu(fullCpu) {
  status("Saving…", null);
  try {
    const data = await postJSON("/api/config/cpu", { full_cpu: fullCpu });
    current = data;
    fillCpu(data.cpu);
    status(data.message, true);
  } catch (err) {
    $("#cfg-full-cpu").checked = !fullCpu;
    status(err.message, false);
  }
}

async function save() {
  const button = $("#cfg-save");
  button.disabled = true;
  status("Saving…", null);
  try {
    const data = await postJSON("/api/config", collect());
    current = data;
    fillForm(data);
    status(data.message, true);
  } catch (err) {
    status(err.message, false);
  } finally {
    button.disabled = false;
  }
}

function renderEnvironments(environments) {
  const body = $("#cfg-environments");
  clear(body);
  if (!environments.length) {
    body.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "None running: the next invocation is a cold start." })));
    return;
  }
  for (const env of environments) {
    body.append(el("tr", {},
      el("td", { class: "fn-cell", title: env.function_name }, wordBreaks(env.function_name)),
      el("td", { class: "mono", text: env.id }),
      el("td", {}, el("span", { class: `env-state env-${env.state}`, text: env.state })),
      el("td", { class: "mono", text: env.pid ?? "–" }),
      el("td", { class: "mono", title: env.log_stream, text: streamLabel(env.log_stream) }),
      el("td", { class: "num", text: String(env.invocations) }),
      el("td", { class: "num", text: env.max_memory_used_mb === null ? "–" : `${env.max_memory_used_mb} MB` }),
      el("td", { class: "num", text: String(env.revision) })));
  }
}

