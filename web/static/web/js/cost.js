// Cost: the session's requests, GB-seconds and price (with and without the free tier), and a monthly
// projection at the observed average.
import { getJSON } from "./api.js";
import { $, el, clear, fmtMs, fmtNumber, fmtUsd, showBanner } from "./dom.js";

let lastKey = null;
let busy = false;

export function init() {
  let timer = null;
  $("#cost-images").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(), 300);
  });
  $("#cost-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
}

export async function update(state, { visible, force }) {
  if (!visible) return;
  const key = state ? `${state.requests}/${state.records_version}` : null;
  if (!force && key === lastKey) return;
  lastKey = key;
  await load();
}

function stat(label, value, note) {
  return el("div", { class: "stat" },
    el("span", { class: "stat-label", text: label }),
    el("span", { class: "stat-value", text: value }),
    note ? el("span", { class: "stat-note", text: note }) : null);
}

async function load() {
  if (busy) return;
  busy = true;
  const raw = $("#cost-images").value.trim();
  try {
    const data = await getJSON(`/api/cost?images=${encodeURIComponent(raw || "0")}`);
    render(data);
    showBanner("#cost-error", null);
  } catch (err) {
    showBanner("#cost-error", err.message);
  } finally {
    busy = false;
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
    ? `Average invocation: billed ${fmtMs(a.billed_duration_ms, 1)} at ${fmtNumber(a.memory_size_mb)} MB = ${a.gb_seconds.toFixed(6)} GB-s = ${fmtUsd(a.usd)}. Cold starts bill their INIT phase too (since August 2025).`
    : "No billed invocations yet: upload an image to see what it costs.";
  const p = data.projection;
  const projection = $("#cost-projection");
  clear(projection);
  projection.append(
    stat("Requests per month", fmtNumber(p.images)),
    stat("GB-seconds per month", fmtNumber(p.gb_seconds, 1)),
    stat("Price per month", fmtUsd(p.usd)),
    stat("With the free tier", fmtUsd(p.usd_free_tier)));
  const pr = data.prices;
  $("#cost-prices").textContent = `Prices: ${pr.region}, ${data.architecture}: ${fmtUsd(pr.per_request * 1e6)} per million requests, ${fmtUsd(pr.per_gb_second)} per GB-second, billed per 1 ms. Free tier each month: ${fmtNumber(pr.free_requests)} requests and ${fmtNumber(pr.free_gb_seconds)} GB-seconds. The whole session counts as one month.`;
}
