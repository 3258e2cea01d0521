// Small inline-SVG charts for the console: grouped bars and lines, no library.
// Every mark carries its figure (data-value) and a <title>, so the chart can be
// read by a screen reader and checked against the API's numbers.

const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
const WIDTH = 640;
const HEIGHT = 280;
const MARGIN = { top: 22, right: 28, bottom: 66, left: 44 };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, String(value));
  }
  node.append(...children);
  return node;
}

function title(text) {
  return svg("title", { text });
}

// A round upper bound for the y axis and its tick step (1, 2 or 5 times a power of ten).
function scaleFor(max) {
  if (max <= 0) return { top: 4, step: 1 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) || rough;
  const whole = Math.max(1, Math.round(step));
  return { top: Math.ceil(max / whole) * whole, step: whole };
}

function frame(label, max) {
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const { top, step } = scaleFor(max);
  const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const root = svg("svg", {
    class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label,
    "data-top": top, "data-plot-height": plotHeight,
  }, title(label));
  for (let tick = 0; tick <= top; tick += step) {
    root.append(
      svg("line", { class: tick === 0 ? "axis" : "grid", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }),
      svg("text", { x: MARGIN.left - 6, y: y(tick) + 4, "text-anchor": "end", text: String(tick) }));
  }
  root.append(svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: y(0) }));
  return { root, y, plotHeight, top };
}

function legend(root, entries) {
  let x = MARGIN.left;
  let y = HEIGHT - 26;
  for (const { label, cls, dashed } of entries) {
    const width = 30 + [...label].reduce((w, c) => w + (c.charCodeAt(0) > 255 ? 12 : 7), 0);
    if (x + width > WIDTH - MARGIN.right) {
      x = MARGIN.left;
      y += 16;
    }
    root.append(dashed
      ? svg("line", { class: cls, x1: x, x2: x + 18, y1: y - 4, y2: y - 4, "stroke-width": 2, "stroke-dasharray": "5 3" })
      : svg("rect", { class: cls, x, y: y - 10, width: 12, height: 12 }));
    root.append(svg("text", { x: x + 22, y, text: label }));
    x += width + 10;
  }
}

/**
 * Grouped bars: groups [{key, label}], series [{key, label}], value(groupKey, seriesKey).
 * Each bar is <rect class="bar series-KEY" data-group data-series data-value>.
 */
export function barChart({ label, groups, series, value }) {
  const max = Math.max(0, ...groups.flatMap((g) => series.map((s) => value(g.key, s.key))));
  const { root, y } = frame(label, max);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const groupWidth = plotWidth / Math.max(1, groups.length);
  const barWidth = Math.min(42, (groupWidth * 0.8) / series.length);
  groups.forEach((group, gi) => {
    const start = MARGIN.left + gi * groupWidth + (groupWidth - barWidth * series.length) / 2;
    series.forEach((s, si) => {
      const figure = value(group.key, s.key);
      const x = start + si * barWidth;
      const top = y(figure);
      root.append(svg("rect", {
        class: `bar series-${s.key}`, x: x + 2, y: top, width: barWidth - 4, height: y(0) - top,
        "data-group": group.key, "data-series": s.key, "data-value": figure,
      }, title(`${group.label} · ${s.label}: ${figure}`)));
      root.append(svg("text", { class: "value", x: x + barWidth / 2, y: top - 4, "text-anchor": "middle", text: String(figure) }));
    });
    root.append(svg("text", {
      x: MARGIN.left + gi * groupWidth + groupWidth / 2, y: y(0) + 16, "text-anchor": "middle", text: group.label,
    }));
  });
  legend(root, series.map((s) => ({ label: s.label, cls: `series-${s.key}` })));
  return root;
}

/**
 * Lines over shared x labels: lines [{key, label, cls, dashed, values}]; each point is
 * <circle data-line data-index data-value>, each line <polyline data-line data-values>.
 */
export function lineChart({ label, xLabels, lines }) {
  const max = Math.max(0, ...lines.flatMap((l) => l.values));
  const { root, y } = frame(label, max);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const x = (i) => MARGIN.left + (xLabels.length <= 1 ? plotWidth / 2 : (i / (xLabels.length - 1)) * plotWidth);
  const every = Math.max(1, Math.ceil(xLabels.length / 7));
  xLabels.forEach((text, i) => {
    if (i % every === 0 || i === xLabels.length - 1) {
      root.append(svg("text", { x: x(i), y: y(0) + 16, "text-anchor": "middle", text }));
    }
  });
  for (const line of lines) {
    const points = line.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    root.append(svg("polyline", {
      class: `${line.cls}${line.dashed ? " series-dashed" : ""}`, points,
      "stroke-dasharray": line.dashed ? "5 3" : "none",
      "data-line": line.key, "data-values": line.values.join(","),
    }, title(line.label)));
    line.values.forEach((v, i) => {
      root.append(svg("circle", {
        class: line.cls, cx: x(i), cy: y(v), r: 2.5, "data-line": line.key, "data-index": i, "data-value": v,
      }, title(`${line.label} · ${xLabels[i]}: ${v}`)));
    });
  }
  legend(root, lines.map((l) => ({ label: l.label, cls: l.cls, dashed: l.dashed })));
  return root;
}
