// DOM helpers. Every piece of data (keys, file names, log lines, error messages) reaches the page as
// a text node or a property - never through innerHTML - so `<img src=x onerror=alert(1)>.jpg` is
// shown as those characters and nothing runs.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function replaceChildren(node, ...children) {
  clear(node);
  return append(node, ...children);
}

// Writing the same text or class again still makes the browser restyle: write only what changed.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function setClass(node, className) {
  if (node.className !== className) node.className = className;
}

// Call `callback` when the element comes near the screen (the "show older" line under a list).
export function whenNear(element, callback) {
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) callback();
  }, { rootMargin: "400px 0px" }).observe(element);
}

// Whether the reader has scrolled down, kept from scroll events: reading scrollY right after changing the
// page would make the browser lay it out at once.
export const reader = { scrolledDown: false };
window.addEventListener("scroll", () => {
  reader.scrolledDown = window.scrollY > 200;
}, { passive: true });

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

// A tab's error banner: shown with the message, hidden when the message is empty.
export function showBanner(selector, message) {
  const banner = $(selector);
  banner.hidden = !message;
  banner.textContent = message || "";
}

// -- formatting --------------------------------------------------------------------------------------
export function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n >= 10240 ? 0 : 1)} KB`;
  return `${n} B`;
}

export function fmtMs(ms, digits = 0) {
  if (ms === null || ms === undefined) return "–";
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Number(ms).toFixed(ms < 10 && digits === 0 ? 1 : digits)} ms`;
}

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

// Dollar amounts from $0.0000002 to millions: enough significant digits to be meaningful.
export function fmtUsd(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "$0.00";
  if (Math.abs(x) >= 0.01) return `$${x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const digits = Math.min(12, Math.max(2, -Math.floor(Math.log10(Math.abs(x))) + 2));
  return `$${x.toFixed(digits)}`;
}

export function fmtDims(w, h) {
  return w && h ? `${w}×${h}` : null;
}

// Times as CloudWatch shows them with "UTC" chosen: 2026-11-27 01:59:45.134
export function fmtTime(ms, withDate = false) {
  if (!ms) return "–";
  const iso = new Date(ms).toISOString();
  return withDate ? iso.replace("T", " ").replace("Z", "") : iso.slice(11, 23);
}

export function shortId(id, n = 8) {
  return id ? String(id).slice(0, n) : "–";
}

// A CamelCase name (ImageResizeQueueLambda) that may wrap only between its words, never inside one.
export function wordBreaks(name) {
  const parts = String(name).split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[-_./])/);
  const nodes = [];
  parts.forEach((part, i) => {
    if (i) nodes.push(document.createElement("wbr"));
    nodes.push(document.createTextNode(part));
  });
  return nodes;
}
