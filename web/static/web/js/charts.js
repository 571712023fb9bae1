// Small SVG charts for the Monitor tab: bars for counts, lines for measures, one value per period, with
// a y axis in the metric's unit and a time axis in UTC. Built with createElementNS and textContent only.
const NS = "http://www.w3.org/2000/svg";
const W = 540;
const H = 230;
const M = { left: 70, right: 16, top: 30, bottom: 34 };
const TICK_EVERY_S = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const COLORS = ["#0b5fb0", "#ec7211", "#1a7f37", "#7b3fb8"];
const GRAPH_COLORS = { errors: ["#c62a1c"], "success-rate": ["#1a7f37"], throttles: ["#8a5a00"] };

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// A value in its unit, short: 1,234 · 87.5 ms · 2.3 s · 99.5 %
export function fmtValue(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "Milliseconds") {
    if (Math.abs(value) >= 10000) return `${(value / 1000).toFixed(1)} s`;
    return `${value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 1 : 0 })} ms`;
  }
  if (unit === "Percent") return `${value.toLocaleString("en-US", { maximumFractionDigits: 1 })} %`;
  return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

function axisLabel(value, unit) {
  if (unit === "Milliseconds") return value >= 1000 ? `${value / 1000} s` : `${value} ms`;
  if (unit === "Percent") return `${value} %`;
  return value.toLocaleString("en-US");
}

// A round top for the y axis and its step: 1, 2, 5 × 10^n, 4 steps at most.
function niceScale(max, counts) {
  if (!(max > 0)) return { top: 4, step: 1 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  if (counts) step = Math.max(1, Math.ceil(step));
  return { top: Math.ceil(max / step) * step, step };
}

function anchor(at) {
  if (at - M.left < 30) return "start";
  return W - M.right - at < 30 ? "end" : "middle";
}

function clock(seconds) {
  return new Date(seconds * 1000).toISOString().slice(11, 19);
}

export function chart(graph, periods, period) {
  const n = periods.length;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const counts = graph.kind === "bar";
  const values = graph.series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const { top, step } = graph.y_max ? { top: graph.y_max, step: graph.y_max / 4 } : niceScale(Math.max(0, ...values), counts);
  const y = (v) => M.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(1, n);
  const x = (i) => M.left + i * slot;
  const colors = GRAPH_COLORS[graph.id] || COLORS;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "mon-chart", role: "img" });
  root.append(svg("title", {}, `${graph.title} (${graph.unit}) per ${period} s`));

  for (let v = 0; v <= top + step / 2; v += step) {
    const at = y(v);
    root.append(svg("line", { x1: M.left, x2: W - M.right, y1: at, y2: at, class: v === 0 ? "mon-axis" : "mon-grid" }));
    root.append(svg("text", { x: M.left - 8, y: at + 5, class: "mon-tick", "text-anchor": "end" }, axisLabel(Number(v.toFixed(6)), graph.unit)));
  }
  // Time labels on round times (every minute, every 10 minutes...), six or fewer.
  const interval = TICK_EVERY_S.find((s) => (n * period) / s <= 6) || TICK_EVERY_S[TICK_EVERY_S.length - 1];
  for (let i = 0; i < n; i += 1) {
    if (periods[i] % interval !== 0) continue;
    const label = interval < 60 ? clock(periods[i]) : clock(periods[i]).slice(0, 5);
    root.append(svg("line", { x1: x(i), x2: x(i), y1: M.top + plotH, y2: M.top + plotH + 5, class: "mon-axis" }));
    root.append(svg("text", { x: x(i), y: H - 10, class: "mon-tick", "text-anchor": anchor(x(i)) }, label));
  }

  const shown = graph.series.length;
  graph.series.forEach((series, s) => {
    const color = colors[s % colors.length];
    const group = svg("g", { class: "mon-series", "data-metric": series.metric, "data-stat": series.stat });
    if (counts) {
      const width = Math.max(1, Math.min(slot * 0.8, 40 * shown) / shown); // a few periods: no slabs
      const left = (slot - width * shown) / 2;
      series.values.forEach((v, i) => {
        if (!v) return;
        const bar = svg("rect", {
          x: x(i) + left + s * width, y: y(v), width, height: Math.max(1, y(0) - y(v)), fill: color, "data-value": v,
        });
        bar.append(svg("title", {}, `${clock(periods[i])} UTC · ${series.label} ${fmtValue(v, graph.unit)}`));
        group.append(bar);
      });
    } else {
      let path = "";
      let open = false;
      series.values.forEach((v, i) => {
        if (v === null || v === undefined) {
          open = false;
          return;
        }
        const px = x(i) + slot / 2;
        path += `${open ? "L" : "M"}${px.toFixed(1)},${y(v).toFixed(1)} `;
        open = true;
        const dot = svg("circle", { cx: px, cy: y(v), r: 3.5, fill: color, "data-value": v });
        dot.append(svg("title", {}, `${clock(periods[i])} UTC · ${series.label} ${fmtValue(v, graph.unit)}`));
        group.append(dot);
      });
      if (path) group.prepend(svg("path", { d: path.trim(), stroke: color, fill: "none", "stroke-width": 2.5 }));
    }
    root.append(group);
  });

  if (graph.empty) {
    root.append(svg("text", { x: M.left + plotW / 2, y: M.top + plotH / 2, class: "mon-nodata", "text-anchor": "middle" },
      graph.note ? "Does not apply to this function" : "No data in this range"));
  }
  if (shown > 1 || graph.kind === "line") {
    const legend = svg("g", { class: "mon-legend" });
    let lx = M.left + 6;
    graph.series.forEach((series, s) => {
      legend.append(svg("rect", { x: lx, y: 6, width: 12, height: 12, fill: colors[s % colors.length] }));
      const label = svg("text", { x: lx + 17, y: 17, class: "mon-legend-text" }, series.label);
      legend.append(label);
      lx += 30 + series.label.length * 8.6;
    });
    root.append(legend);
  }
  return root;
}
