// Gallery: each source object beside its resized result, newest first, updated in place (cards are
// keyed by S3 key, so images are not reloaded on every poll).
import { getJSON, objectUrl } from "./api.js";
import { $, el, append, clear, fmtBytes, fmtDims, fmtMs, shortId, showBanner } from "./dom.js";

const STATUS_TEXT = {
  pending: "pending",
  running: "running",
  retrying: "retrying",
  done: "done",
  skipped: "skipped",
  failed: "failed",
};
const PLACEHOLDER = {
  pending: "Waiting for the function…",
  running: "Resizing…",
  retrying: "Waiting for a retry…",
  failed: "No result",
  skipped: "Skipped",
  done: "No output object found",
};

let ctx;
const cards = new Map(); // key -> card
let lastVersion = null;
let lastFetch = 0;
let busy = false;
let again = false;

export function init(context) {
  ctx = context;
  $("#pair-close").addEventListener("click", () => $("#pair-dialog").close());
  $("#pair-dialog").addEventListener("click", (event) => {
    if (event.target === event.currentTarget) event.currentTarget.close(); // click on the backdrop
  });
}

export async function update(state, { visible, force }) {
  if (!visible && !force) return;
  const stale = Date.now() - lastFetch > 5000;
  if (!force && !stale && state && state.records_version === lastVersion) return;
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const data = await getJSON("/api/gallery");
    lastVersion = data.version;
    lastFetch = Date.now();
    render(data.items);
    showBanner("#gallery-error", null);
  } catch (err) {
    showBanner("#gallery-error", err.message);
  } finally {
    busy = false;
    if (again) {
      again = false;
      update(ctx.state, { visible: true, force: true });
    }
  }
}

function render(items) {
  const container = $("#gallery");
  const seen = new Set();
  items.forEach((item, index) => {
    seen.add(item.key);
    let card = cards.get(item.key);
    if (!card) {
      card = createCard(item.key);
      cards.set(item.key, card);
    }
    fill(card, item);
    if (container.children[index] !== card.root) container.insertBefore(card.root, container.children[index] || null);
  });
  for (const [key, card] of cards) {
    if (!seen.has(key)) {
      card.root.remove();
      cards.delete(key);
    }
  }
  $("#gallery-empty").hidden = items.length > 0;
}

function createCard(key) {
  const card = { key, item: null };
  card.sourceImg = el("img", { class: "source-img", alt: `Original: ${key}`, loading: "lazy", decoding: "async" });
  card.sourceCaption = el("figcaption");
  card.resizedBox = el("div", { class: "resized-box" });
  card.resizedCaption = el("figcaption");
  card.title = el("h3", { class: "key", title: key, text: key });
  card.badge = el("span", { class: "badge" });
  card.saving = el("span", { class: "saving" });
  card.reason = el("p", { class: "reason" });
  card.facts = el("p", { class: "facts" });
  card.pair = el("button", { class: "pair", type: "button", title: "Show the full-size pair" },
    el("figure", { class: "thumb" }, el("div", { class: "img-box", dataset: { label: "The browser cannot display this file" } }, card.sourceImg), card.sourceCaption),
    el("span", { class: "arrow", "aria-hidden": "true", text: "→" }),
    el("figure", { class: "thumb" }, card.resizedBox, card.resizedCaption));
  card.pair.addEventListener("click", () => openPair(card.item));
  card.sourceImg.addEventListener("load", () => {
    markTiny(card.sourceImg);
    card.sourceImg.parentElement.classList.remove("not-image");
    // The handler reports the source's size; until it has (or if it never does), the browser knows it.
    if (card.item && !card.item.source.width) fill(card, card.item);
  });
  card.sourceImg.addEventListener("error", () => {
    // Not something a browser can show (a text file, a TIFF...): say so instead of a broken icon.
    card.sourceImg.parentElement.classList.add("not-image");
  });
  card.root = el("article", { class: "card", dataset: { key } },
    card.pair,
    el("div", { class: "card-meta" },
      el("div", { class: "card-head" }, card.title, card.badge, card.saving),
      card.reason, card.facts));
  return card;
}

function sourceDims(card, item) {
  if (item.source.width) {
    const dims = fmtDims(item.source.width, item.source.height);
    // The handler reports the stored pixels; browsers apply EXIF orientation when they show them.
    return item.source.orientation > 1 ? `${dims} stored, EXIF orientation ${item.source.orientation}` : dims;
  }
  const img = card.sourceImg;
  return img.complete && img.naturalWidth ? fmtDims(img.naturalWidth, img.naturalHeight) : null;
}

function fill(card, item) {
  card.item = item;
  card.root.className = `card status-${item.status}`;
  const srcUrl = objectUrl(item.source.bucket, item.source.key, item.source.etag);
  if (card.sourceImg.getAttribute("src") !== srcUrl) card.sourceImg.src = srcUrl;
  card.sourceCaption.textContent = ["Original", sourceDims(card, item), fmtBytes(item.source.bytes)]
    .filter(Boolean).join(" · ");

  const resized = item.resized && item.resized.exists !== false ? item.resized : null;
  if (resized) {
    const url = objectUrl(resized.bucket, resized.key, resized.etag);
    let img = card.resizedBox.querySelector("img");
    if (!img) {
      clear(card.resizedBox);
      img = el("img", { class: "resized-img", alt: `Resized: ${resized.key}`, decoding: "async" });
      img.addEventListener("load", () => markTiny(img));
      card.resizedBox.className = "img-box";
      card.resizedBox.append(img);
    }
    if (img.getAttribute("src") !== url) img.src = url;
    card.resizedCaption.textContent = ["Resized", fmtDims(resized.width, resized.height), fmtBytes(resized.bytes)]
      .filter(Boolean).join(" · ");
    card.resizedCaption.title = resized.key;
  } else {
    const text = PLACEHOLDER[item.status] || item.status;
    if (card.resizedBox.textContent !== text || card.resizedBox.querySelector("img")) {
      clear(card.resizedBox);
      card.resizedBox.className = `placeholder placeholder-${item.status}`;
      append(card.resizedBox, el("span", { text }));
    }
    card.resizedCaption.textContent = "Resized";
    card.resizedCaption.title = "";
  }

  card.badge.className = `badge badge-${item.status}`;
  card.badge.textContent = STATUS_TEXT[item.status] || item.status;
  card.saving.classList.toggle("larger", item.saving_pct !== null && item.saving_pct < 0);
  card.saving.textContent = item.saving_pct !== null && item.saving_pct !== undefined
    ? `${item.saving_pct >= 0 ? "−" : "+"}${Math.abs(item.saving_pct).toFixed(0)}% bytes` : "";
  card.saving.title = item.saving_pct !== null && item.saving_pct !== undefined
    ? `The resized image is ${Math.abs(item.saving_pct)}% ${item.saving_pct >= 0 ? "smaller" : "larger"} than the original.` : "";
  card.reason.textContent = item.reason || "";
  card.reason.hidden = !item.reason;
  const facts = [];
  if (item.request_id) facts.push(`request ${shortId(item.request_id)}`);
  if (item.attempt > 1) facts.push(`attempt ${item.attempt}`);
  if (item.cold_start !== null && item.cold_start !== undefined) facts.push(item.cold_start ? "cold start" : "warm");
  if (item.duration_ms !== null && item.duration_ms !== undefined) facts.push(fmtMs(item.duration_ms));
  card.facts.textContent = facts.join(" · ");
}

// A 1x1 image would be invisible: show small images enlarged, with crisp pixels.
function markTiny(img) {
  img.classList.toggle("tiny", img.naturalWidth > 0 && img.naturalWidth < 48 && img.naturalHeight < 48);
}

function openPair(item) {
  if (!item) return;
  const dialog = $("#pair-dialog");
  $("#pair-title").textContent = item.key;
  const src = $("#pair-source");
  src.src = objectUrl(item.source.bucket, item.source.key, item.source.etag);
  src.alt = `Original: ${item.key}`;
  $("#pair-source-caption").textContent = [`Original · s3://${item.source.bucket}/${item.source.key}`,
    fmtDims(item.source.width, item.source.height), fmtBytes(item.source.bytes)].filter(Boolean).join(" · ");
  const resized = item.resized && item.resized.exists !== false ? item.resized : null;
  const out = $("#pair-resized");
  if (resized) {
    out.hidden = false;
    out.src = objectUrl(resized.bucket, resized.key, resized.etag);
    out.alt = `Resized: ${resized.key}`;
    $("#pair-resized-caption").textContent = [`Resized · s3://${resized.bucket}/${resized.key}`,
      fmtDims(resized.width, resized.height), fmtBytes(resized.bytes)].filter(Boolean).join(" · ");
  } else {
    out.hidden = true;
    out.removeAttribute("src");
    $("#pair-resized-caption").textContent = `No resized image: ${item.reason || item.status}`;
  }
  dialog.showModal();
}
