// The Service map tab: every bucket, queue, table, API, rule and function of the session that took part in
// a trace, and the edges between them (deliveries and invocations, the SDK calls functions made), each
// counted with its errors, as X-Ray's trace map draws them. Drawn in SVG; names are text nodes. Read when
// the tab is shown and again a moment after invocations change while it is visible (never polled).
import { getJSON } from "./api.js";
import { $, clear, fmtNumber, showBanner } from "./dom.js";
import { styles } from "./trace_path.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 236;
const NODE_H = 46;
const COL_W = 300;
const ROW_H = 74;
const KIND_LABEL = { bucket: "S3 bucket", queue: "SQS queue", table: "DynamoDB table", api: "API", url: "Function URL", rule: "EventBridge rule", schedule: "Schedule", function: "λ function", topic: "SNS topic" };

let ctx;
let timer = null;
let lastCounts = null;

export function init(context) {
  ctx = context;
  styles();
  $("#map-refresh").addEventListener("click", read);
}

export function show() {
  read();
}

export function frame(message) {
  const counts = message.counts ? `${message.counts.invocations}/${message.counts.running}` : null;
  if (!counts || counts === lastCounts) return;
  lastCounts = counts;
  if (!ctx.visible("service-map") || timer) return;
  timer = setTimeout(() => { timer = null; if (ctx.visible("service-map")) read(); }, 3000); // at most every 3 s while invocations change: the map is a session's summary
}

async function read() {
  let data;
  try {
    data = await getJSON("/api/traces/map");
    showBanner("#map-error", null);
  } catch (err) {
    showBanner("#map-error", err.message);
    return;
  }
  draw(data);
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
}

function svgText(text, attrs) {
  const node = svg("text", attrs);
  node.textContent = text;
  return node;
}

function shorten(name, n = 26) {
  return name.length > n ? `${name.slice(0, n - 1)}…` : name;
}

// Columns by the longest chain of edges that leads to a node: what starts a trace on the left, what the
// functions call on the right. A function's call to a resource that itself invokes something (its own
// trigger bucket, a queue it feeds) does not move that resource: it is drawn as a curve back.
function layers(nodes, edges) {
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  const triggers = new Set(edges.map((e) => e.from));
  const forward = edges.filter((e) => e.from !== e.to && !(e.from.startsWith("function:") && triggers.has(e.to)));
  for (let round = 0; round < nodes.length; round++) {
    let moved = false;
    for (const e of forward) {
      const want = layer.get(e.from) + 1;
      if (want > layer.get(e.to) && want <= 6) {
        layer.set(e.to, want);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return layer;
}

function draw(data) {
  const box = $("#map-canvas");
  clear(box);
  const note = $("#map-note");
  const forgotten = data.forgotten ? ` ${fmtNumber(data.forgotten)} older traces are no longer kept (the newest ${fmtNumber(data.keep)} are); the counts still include them.` : "";
  note.textContent = `${fmtNumber(data.nodes.length)} resources and functions, ${fmtNumber(data.edges.length)} edges, counted since the sandbox started.${forgotten}`;
  $("#map-empty").hidden = data.nodes.length > 0;
  if (!data.nodes.length) return;
  const layer = layers(data.nodes, data.edges);
  const columns = new Map();
  for (const node of [...data.nodes].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))) {
    const col = layer.get(node.id);
    if (!columns.has(col)) columns.set(col, []);
    columns.get(col).push(node);
  }
  const place = new Map();
  const used = [...columns.keys()].sort((a, b) => a - b);
  used.forEach((col, x) => columns.get(col).forEach((node, y) => place.set(node.id, { x: 20 + x * COL_W, y: 20 + y * ROW_H })));
  const width = 40 + (used.length - 1) * COL_W + NODE_W;
  const height = 40 + Math.max(...used.map((c) => columns.get(c).length)) * ROW_H;
  const root = svg("svg", { class: "service-map", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Service map" });
  root.append(svg("defs", {}, svg("marker", { id: "map-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "map-arrow" }))));
  for (const e of data.edges) {
    const a = place.get(e.from);
    const b = place.get(e.to);
    if (!a || !b) continue;
    const forward = b.x > a.x;
    const x1 = forward ? a.x + NODE_W : a.x + NODE_W / 2;
    const y1 = forward ? a.y + NODE_H / 2 : a.y + NODE_H;
    const x2 = forward ? b.x : b.x + NODE_W / 2;
    const y2 = forward ? b.y + NODE_H / 2 : b.y + NODE_H;
    const d = forward ? `M ${x1} ${y1} C ${x1 + 60} ${y1}, ${x2 - 60} ${y2}, ${x2 - 2} ${y2}`
      : `M ${x1} ${y1} C ${x1} ${y1 + 50}, ${x2} ${y2 + 50}, ${x2} ${y2 + 2}`;
    const ops = Object.entries(e.operations).map(([op, n]) => `${op} ×${n}`).join(", ");
    const tip = svg("title");
    tip.textContent = `${e.from} → ${e.to}: ${ops}${e.errors ? ` (${e.errors} failed)` : ""}`;
    const mx = forward ? (x1 + x2) / 2 : (x1 + x2) / 2;
    const my = forward ? (y1 + y2) / 2 - 6 : Math.max(y1, y2) + 34;
    root.append(svg("g", { class: `map-edge${e.errors ? " has-errors" : ""}`, "data-from": e.from, "data-to": e.to }, tip,
      svg("path", { d, "marker-end": "url(#map-arrow)" }),
      svgText(`${e.count}${e.errors ? ` · ${e.errors} ✕` : ""}`, { x: mx, y: my, "text-anchor": "middle", class: "map-count" })));
  }
  for (const node of data.nodes) {
    const p = place.get(node.id);
    const tip = svg("title");
    tip.textContent = `${KIND_LABEL[node.kind] || node.kind}: ${node.name}`;
    root.append(svg("g", { class: `map-node kind-${node.kind}`, transform: `translate(${p.x} ${p.y})`, "data-id": node.id }, tip,
      svg("rect", { width: NODE_W, height: NODE_H, rx: 8 }),
      svgText(KIND_LABEL[node.kind] || node.kind, { x: 10, y: 17, class: "map-kind" }),
      svgText(shorten(node.name), { x: 10, y: 36, class: "map-name" })));
  }
  box.append(root);
}
