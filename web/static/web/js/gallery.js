// Gallery: each source object with its resized copy, newest first. The first 50 are read once; older
// ones are read on scroll; the change feed adds and updates cards as invocations change, without reading
// the list again. A card's picture is the resized image, loaded only while the card is on screen and a
// few a second at most (a burst must not become a burst of image requests); the source is loaded at full
// size only when the pair is opened, with the log lines of the invocations that made it (pair.js, loaded
// then).
import { getJSON, objectUrl } from "./api.js";
import { $, el, append, clear, fmtBytes, fmtDims, fmtMs, reader, setClass, setText, shortId, showBanner, whenNear } from "./dom.js";
import { LiveList } from "./feed.js";

const PAGE = 50;
const FIRST_PAGE = 30; // enough to fill a large screen; the page preloads it (views/pages.py), so the same URL
const KEEP = 40; // cards kept while the reader is at the top (three screens); older ones are read again on scroll
const THUMBS_PER_S = 10; // thumbnails started per second once the first THUMB_BURST are under way ...
const BUSY_THUMBS_PER_S = 2; // ... and while a burst goes on (each one lays out and paints the page again)
const BUSY_ITEMS = 10; // a frame about more items than this means a burst
const THUMB_BURST = 10;
const THUMBS_IN_FLIGHT = 2;

const PLACEHOLDER = {
  pending: "Waiting for the function…",
  running: "Resizing…",
  retrying: "Waiting for a retry…",
  failed: "No result",
  skipped: "Skipped",
  done: "No output to show",
  "not invoked": "Not invoked",
};

let ctx;
const cards = new Map(); // key -> card
let order = []; // keys, newest first, as the gallery shows them
let next = null; // cursor of the items older than the last card; null: every item is shown
let moreBusy = false;
let firstPaint = true; // the first page painted and the first thumbnail shown are marked for the benchmark
let firstThumbnail = true;
const live = new LiveList(loadFirst, applyFrame, "#gallery-error", () => updateEnds());
export const topic = "gallery";

// Resolves once the first page of the gallery is on screen (or could not be read).
let painted;
export const firstPaintDone = new Promise((resolve) => {
  painted = resolve;
});

export function init(context) {
  ctx = context;
  $("#gallery-more-button").addEventListener("click", loadMore);
  whenNear($("#gallery-more"), loadMore);
}

export function show() {
  if (live.state === "empty") live.refresh().then((read) => read || painted());
}

export function hello(message) {
  live.hello(message);
}

export function frame(message) {
  if (message.gallery || message.gallery_removed) live.frame(message);
}

// -- the list --------------------------------------------------------------------------------------
function newer(a, b) {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

function oldestShown() {
  return order.length ? cards.get(order[order.length - 1]).item : null;
}

async function loadFirst() {
  const url = `/api/gallery?limit=${FIRST_PAGE}`;
  // The first read takes the answer the page preloaded (a plain fetch of the same URL); later ones ask again.
  const preloaded = firstPaint ? fetch(url, { headers: { Accept: "application/json" } }) : null;
  const data = await getJSON(url, preloaded);
  for (const key of [...order]) removeCard(key);
  for (const item of data.items) addCard(item);
  next = data.next;
  updateEnds();
  if (firstPaint) {
    firstPaint = false;
    requestAnimationFrame(() => {
      performance.mark("gallery-first-paint");
      painted();
    });
  }
  return data.seq;
}

function applyFrame(message) {
  const items = message.gallery || [];
  if (items.length > BUSY_ITEMS) busyUntil = performance.now() + 3000;
  for (const key of message.gallery_removed || []) removeCard(key);
  let fresh = items.filter((item) => !cards.has(item.key));
  if (!reader.scrolledDown && fresh.length > KEEP) {
    // A burst, and the reader at the top: only the newest KEEP can stay, so only they get a card (the
    // others are read again if the reader scrolls down).
    fresh.sort((a, b) => (newer(a.order, b.order) ? -1 : 1));
    fresh = new Set(fresh.slice(0, KEEP));
    for (const item of items) if (cards.has(item.key) || fresh.has(item)) upsert(item);
    trim();
    next = cards.get(order[order.length - 1]).item.cursor; // what was skipped is older than every card
  } else {
    for (const item of items) upsert(item);
    trim();
  }
  updateEnds();
}

function upsert(item) {
  const card = cards.get(item.key);
  if (card) {
    if (card.item.rev > item.rev) return; // an older state than the one shown
    const moved = card.item.order[0] !== item.order[0] || card.item.order[1] !== item.order[1];
    if (moved) {
      unplace(item.key);
      fill(card, item);
      place(card);
    } else {
      fill(card, item);
    }
  } else {
    const oldest = oldestShown();
    // Items older than the last card belong to pages not read yet, unless every item is shown.
    if (next === null || (oldest && newer(item.order, oldest.order))) addCard(item);
  }
}

function addCard(item) {
  if (cards.has(item.key)) return upsert(item);
  const card = createCard(item.key);
  cards.set(item.key, card);
  fill(card, item);
  place(card);
  thumbObserver.observe(card.root);
}

function removeCard(key) {
  const card = cards.get(key);
  if (!card) return;
  unplace(key);
  cards.delete(key);
  thumbObserver.unobserve(card.root);
  visible.delete(card);
}

function place(card) {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newer(cards.get(order[mid]).item.order, card.item.order)) lo = mid + 1;
    else hi = mid;
  }
  const container = $("#gallery");
  order.splice(lo, 0, card.key);
  container.insertBefore(card.root, container.children[lo] || null);
}

function unplace(key) {
  const index = order.indexOf(key);
  if (index >= 0) order.splice(index, 1);
  const card = cards.get(key);
  if (card) card.root.remove();
}

// While the reader is at the top, a long burst does not grow the page without end: cards beyond the
// first KEEP go, and scrolling down reads them again.
function trim() {
  if (order.length <= KEEP || reader.scrolledDown) return;
  const last = cards.get(order[KEEP - 1]).item;
  for (const key of order.slice(KEEP)) removeCard(key);
  next = last.cursor;
}

async function loadMore() {
  if (moreBusy || next === null || live.state !== "ready") return;
  moreBusy = true;
  try {
    const data = await getJSON(`/api/gallery?limit=${PAGE}&before=${encodeURIComponent(next)}`);
    for (const item of data.items) addCard(item);
    next = data.next;
    showBanner("#gallery-error", null);
  } catch (err) {
    showBanner("#gallery-error", err.message);
  } finally {
    moreBusy = false;
    updateEnds();
  }
}

function updateEnds() {
  $("#gallery-empty").hidden = order.length > 0 || live.state === "loading";
  $("#gallery-more").hidden = next === null;
}

// -- cards -----------------------------------------------------------------------------------------
function createCard(key) {
  const card = { key, item: null, want: null, shown: null, loading: null, failed: null };
  card.thumb = el("div", { class: "thumb-box placeholder" });
  card.sourceCaption = el("p", { class: "caption caption-source" });
  card.resizedCaption = el("p", { class: "caption caption-resized" });
  card.title = el("h3", { class: "key", title: key, text: key });
  card.badge = el("span", { class: "badge" });
  card.saving = el("span", { class: "saving" });
  card.reason = el("p", { class: "reason" });
  card.facts = el("span", {});
  card.pair = el("button", { class: "pair", type: "button", title: "Show the original and the resized image at full size, with the invocation's log lines" },
    card.thumb, el("div", { class: "captions" }, card.sourceCaption, card.resizedCaption));
  card.pair.addEventListener("click", () => showPair(card.item));
  card.logs = el("button", { class: "link-button logs-link", type: "button", text: "Log lines", title: "This image's START … REPORT lines beside the two images" });
  card.logs.addEventListener("click", () => showPair(card.item, { toLogs: true }));
  card.root = el("article", { class: "card", dataset: { key } },
    card.pair,
    el("div", { class: "card-meta" },
      el("div", { class: "card-head" }, card.title, card.badge, card.saving),
      card.reason, el("p", { class: "facts" }, card.facts, card.logs)));
  card.root.sandboxCard = card;
  return card;
}

function sourceDims(item) {
  const dims = fmtDims(item.source.width, item.source.height);
  // The handler reports the stored pixels; browsers apply EXIF orientation when they show them.
  return dims && item.source.orientation > 1 ? `${dims} stored, EXIF orientation ${item.source.orientation}` : dims;
}

function fill(card, item) {
  const before = card.item;
  card.item = item;
  const status = item.status.replace(/ /g, "-");
  setClass(card.root, `card status-${status}`);
  setText(card.sourceCaption, ["Original", sourceDims(item), fmtBytes(item.source.bytes)].filter(Boolean).join(" · "));
  const resized = item.resized;
  setText(card.resizedCaption, resized
    ? ["Resized", fmtDims(resized.width, resized.height), fmtBytes(resized.bytes)].filter(Boolean).join(" · ")
    : "Resized: –");
  card.resizedCaption.title = resized ? resized.key : "";
  card.want = resized ? objectUrl(resized.bucket, resized.key, resized.version) : null;
  if (!card.want) {
    if (!before || before.status !== item.status || card.shown) showPlaceholder(card, PLACEHOLDER[item.status] || item.status, item.status);
  } else if (card.failed === card.want) {
    showPlaceholder(card, "The resized object could not be read", "failed");
  } else if (!card.shown && card.thumb.textContent !== "Loading the resized image…") {
    showPlaceholder(card, "Loading the resized image…", "done");
  }

  setClass(card.badge, `badge badge-${status}`);
  setText(card.badge, item.status);
  const saving = item.saving_pct;
  const known = saving !== null && saving !== undefined;
  card.saving.classList.toggle("larger", known && saving < 0);
  setText(card.saving, known ? `${saving >= 0 ? "−" : "+"}${Math.abs(saving).toFixed(0)}% bytes` : "");
  card.saving.title = known ? `The resized image is ${Math.abs(saving)}% ${saving >= 0 ? "smaller" : "larger"} than the original.` : "";
  setText(card.reason, item.reason || "");
  card.reason.hidden = !item.reason;
  const facts = [];
  if (item.request_id) facts.push(`request ${shortId(item.request_id)}`);
  if (item.attempt > 1) facts.push(`attempt ${item.attempt}`);
  if (item.cold_start !== null && item.cold_start !== undefined) facts.push(item.cold_start ? "cold start" : "warm");
  if (item.duration_ms !== null && item.duration_ms !== undefined) facts.push(fmtMs(item.duration_ms));
  setText(card.facts, facts.join(" · "));
  if (card.logs.hidden !== !item.request_id) card.logs.hidden = !item.request_id;
  if (card.want && visible.has(card)) pumpThumbs();
  if (pair && pair.openKey() === item.key) pair.changed(item);
}

function showPlaceholder(card, text, status) {
  card.shown = null;
  clear(card.thumb);
  card.thumb.className = `thumb-box placeholder placeholder-${status.replace(/ /g, "-")}`;
  append(card.thumb, el("span", { text }));
}

function showThumb(card, img) {
  if (firstThumbnail) {
    firstThumbnail = false;
    performance.mark("gallery-first-thumbnail");
  }
  clear(card.thumb);
  card.thumb.className = "thumb-box img-box";
  img.className = "resized-img";
  img.alt = `Resized: ${card.item.resized ? card.item.resized.key : card.key}`;
  markTiny(img);
  card.thumb.append(img);
}

// A 1x1 image would be invisible: show small images enlarged, with crisp pixels.
function markTiny(img) {
  img.classList.toggle("tiny", img.naturalWidth > 0 && img.naturalWidth < 48 && img.naturalHeight < 48);
}

// -- thumbnails: only on screen, newest first, a few a second ----------------------------------------
const visible = new Set();
const thumbObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const card = entry.target.sandboxCard;
    if (entry.isIntersecting) visible.add(card);
    else visible.delete(card);
  }
  pumpThumbs();
}, { rootMargin: "200px 0px" });
let busyUntil = 0;
let tokens = THUMB_BURST;
let refilled = performance.now();
let inFlight = 0;
let pumpTimer = null;

function wanting(card) {
  return card.want && card.shown !== card.want && card.loading !== card.want && card.failed !== card.want;
}

function nextThumb() {
  let best = null;
  for (const card of visible) if (wanting(card) && (!best || newer(card.item.order, best.item.order))) best = card;
  return best;
}

function pumpThumbs() {
  const now = performance.now();
  const rate = now < busyUntil ? BUSY_THUMBS_PER_S : THUMBS_PER_S;
  tokens = Math.min(THUMB_BURST, tokens + ((now - refilled) / 1000) * rate);
  refilled = now;
  while (inFlight < THUMBS_IN_FLIGHT && tokens >= 1) {
    const card = nextThumb();
    if (!card) return;
    tokens -= 1;
    loadThumb(card);
  }
  if (pumpTimer === null && inFlight < THUMBS_IN_FLIGHT && nextThumb()) {
    pumpTimer = setTimeout(() => {
      pumpTimer = null;
      pumpThumbs();
    }, Math.max(20, ((1 - tokens) / rate) * 1000));
  }
}

function loadThumb(card) {
  const url = card.want;
  card.loading = url;
  inFlight += 1;
  const img = new Image();
  img.decoding = "async";
  const done = (ok) => {
    inFlight -= 1;
    if (card.loading === url) card.loading = null;
    if (!ok) card.failed = url;
    if (card.want === url && cards.get(card.key) === card) {
      if (ok) {
        card.shown = url;
        showThumb(card, img);
      } else {
        showPlaceholder(card, "The resized object could not be read", "failed");
      }
    }
    pumpThumbs();
  };
  img.addEventListener("load", () => done(true), { once: true });
  img.addEventListener("error", () => done(false), { once: true });
  img.src = url;
}

// -- the full-size pair and its log lines (pair.js, loaded the first time a pair is opened) --------------
let pair = null;

function showPair(item, options = {}) {
  if (!item) return;
  import("./pair.js").then((module) => {
    if (!pair) {
      module.init(ctx);
      pair = module;
    }
    pair.openPair(item, options);
  }).catch(() => showBanner("#gallery-error", "The page could not load its pair viewer; reload the page."));
}
