// Cost: the session's requests, GB-seconds and price (with and without the free tier), as billed here,
// and what a month would cost on AWS: the warm invocations' average plus a share of cold starts the
// reader sets, each billing its INIT.
import { getJSON } from "./api.js";
import { $, el, clear, fmtMs, fmtNumber, fmtUsd, showBanner } from "./dom.js";

const EVERY_MS = 2000; // while the tab is shown, read again at most every 2 s as invocations finish

let ctx;
let busy = false;
let again = false;
let timer = null;
let loadedAt = 0;

export function init(context) {
  ctx = context;
  let typing = null;
  for (const id of ["#cost-images", "#cost-cold"]) {
    $(id).addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => load(), 300);
    });
  }
  $("#cost-function").addEventListener("change", () => load());
  $("#cost-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
}

export function show() {
  loadFunctions();
  load();
}

// The function picker: every function of the sandbox, each projected at its own configured memory.
async function loadFunctions() {
  let data;
  try {
    data = await getJSON("/api/functions");
  } catch (err) {
    return; // the picker keeps what it had; the projection still reads
  }
  const select = $("#cost-function");
  const chosen = select.value || data.default;
  clear(select);
  for (const fn of data.functions) {
    select.append(el("option", { value: fn.function_name, text: `${fn.function_name} (${fn.memory_size} MB)` }));
  }
  select.value = chosen;
  $("#cost-function-label").hidden = data.functions.length < 2;
}

export function frame(message) {
  if (!(message.changes && message.changes.invocations) || !ctx.visible("cost") || timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    load();
  }, Math.max(0, loadedAt + EVERY_MS - Date.now()));
}

function stat(label, value, note) {
  return el("div", { class: "stat" },
    el("span", { class: "stat-label", text: label }),
    el("span", { class: "stat-value", text: value }),
    note ? el("span", { class: "stat-note", text: note }) : null);
}

async function load() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  loadedAt = Date.now();
  const images = $("#cost-images").value.trim();
  const cold = $("#cost-cold").value.trim();
  const params = new URLSearchParams({ images: images || "0" });
  if (cold) params.set("cold_pct", cold);
  if ($("#cost-function").value) params.set("function", $("#cost-function").value);
  try {
    const data = await getJSON(`/api/cost?${params.toString()}`);
    render(data);
    showBanner("#cost-error", null);
  } catch (err) {
    showBanner("#cost-error", err.message);
  } finally {
    busy = false;
    if (again) {
      again = false;
      load();
    }
  }
}

function render(data) {
  const s = data.session;
  const session = $("#cost-session");
  clear(session);
  session.append(
    stat("Requests", fmtNumber(s.requests)),
    stat("GB-seconds", fmtNumber(s.gb_seconds, 4), "billed duration × memory"),
    stat("Price", fmtUsd(s.usd), `requests ${fmtUsd(s.request_usd)} + compute ${fmtUsd(s.compute_usd)}`),
    stat("With the free tier", fmtUsd(s.usd_free_tier), "1M requests and 400,000 GB-s free each month"));
  const a = data.average;
  $("#cost-average").textContent = a
    ? `Average invocation this session (every function): billed ${fmtMs(a.billed_duration_ms, 1)} at ${fmtNumber(a.memory_size_mb)} MB = ${a.gb_seconds.toFixed(6)} GB-s = ${fmtUsd(a.usd)}, cold starts included: this is what was billed here. Cold starts bill their INIT phase too (since August 2025).`
    : "No billed invocations yet: upload an image to see what it costs.";

  const m = data.measured;
  $("#cost-cold").placeholder = String(data.default_cold_pct);
  const inits = m.cold
    ? `Init Duration measured here: median ${fmtMs(m.init_ms_median, 0)} of ${m.cold} cold start${m.cold === 1 ? "" : "s"} (fastest ${fmtMs(m.init_ms_min, 0)})`
      + (m.init_alone ? `; ${fmtMs(m.init_ms_alone_median, 0)} for the ${m.init_alone} that started alone.` : ".")
    : "No cold start measured yet.";
  $("#cost-init").textContent = inits;

  const projection = $("#cost-projection");
  clear(projection);
  const p = data.projection;
  if (!p) {
    $("#cost-basis").textContent = `The projection needs one finished invocation of ${data.function_name} at its configured ${data.memory_size} MB.`;
    $("#cost-caveat").textContent = "";
  } else {
    projection.append(
      stat("Requests per month", fmtNumber(p.images)),
      stat("Cold starts", fmtNumber(p.cold_starts), `${fmtNumber(p.cold_start_share * 100, 2)} % of them, each billing ${fmtMs(p.init_ms, 0)} of INIT`),
      stat("GB-seconds per month", fmtNumber(p.gb_seconds, 1), `${fmtMs(p.billed_ms_per_invocation, 1)} billed per request on average`),
      stat("Price per month", fmtUsd(p.usd)),
      stat("With the free tier", fmtUsd(p.usd_free_tier)));
    const warm = p.basis === "warm"
      ? `the average warm invocation here (${fmtMs(p.warm_billed_ms, 1)} billed at ${fmtNumber(p.memory_mb)} MB, ${fmtNumber(m.warm)} measured)`
      : `the cold starts' Duration without their INIT (${fmtMs(p.warm_billed_ms, 1)} at ${fmtNumber(p.memory_mb)} MB): no warm invocation yet`;
    const init = p.init_basis === "alone" ? "the INIT of cold starts that had the machine to themselves"
      : p.init_basis === "fastest" ? "the fastest INIT measured here" : "no INIT measured yet";
    $("#cost-basis").textContent = `From ${warm}, plus the cold starts' share above, each billing ${init}.`;
    $("#cost-caveat").textContent = `Local INIT times are inflated when several environments start together: here they share this machine's ${m.cores} core${m.cores === 1 ? "" : "s"} (uploading 7 sample images at once starts 7), while on AWS every environment gets its own CPU. So the projection does not use the session's average, which such cold starts dominate; the session's totals above stay what was billed here.`;
  }
  const others = data.other_memory || [];
  $("#cost-other-memory").textContent = others.length
    ? `Left out of the projection, made at another memory size than ${data.function_name}'s ${data.memory_size} MB `
      + `(a power tuning, or before the memory was changed): ${others.map((o) => `${fmtNumber(o.invocations)} at ${fmtNumber(o.memory_mb)} MB (${fmtMs(o.billed_ms_mean, 1)} billed on average)`).join(", ")}.`
    : "";
  const pr = data.prices;
  $("#cost-prices").textContent = `Prices: ${pr.region}, ${data.architecture}: ${fmtUsd(pr.per_request * 1e6)} per million requests, ${fmtUsd(pr.per_gb_second)} per GB-second, billed per 1 ms. Free tier each month: ${fmtNumber(pr.free_requests)} requests and ${fmtNumber(pr.free_gb_seconds)} GB-seconds. The whole session counts as one month.`;
}
