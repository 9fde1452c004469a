// A small SVG line chart for an experiment's summary curves (a mass spectrum, a TOF
// histogram): a few thousand points need no plotting library on the entry page.

const NS = "http://www.w3.org/2000/svg";
const W = 560;
const H = 240;
const PAD = { left: 56, right: 12, top: 10, bottom: 40 };

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function tickLabel(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(3)));
}

/** An <svg> of y(x); ``logY`` draws log10(y) and leaves out points with y <= 0. */
export function lineChart({ title, x, y, xLabel, yLabel, logY = false }) {
  const pts = [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i]) || (logY && y[i] <= 0)) continue;
    pts.push([x[i], logY ? Math.log10(y[i]) : y[i]]);
  }
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "curve", role: "img",
    "aria-label": `${title}: ${yLabel} against ${xLabel}` });
  if (!pts.length) return root;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!logY) y0 = Math.min(0, y0);
  if (y1 === y0) y1 = y0 + 1;
  const px = (v) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * (W - PAD.left - PAD.right);
  const py = (v) => H - PAD.bottom - ((v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  root.append(svg("rect", { x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right,
    height: H - PAD.top - PAD.bottom, class: "frame" }));
  for (let k = 0; k <= 4; k++) {
    const xv = x0 + ((x1 - x0) * k) / 4;
    const yv = y0 + ((y1 - y0) * k) / 4;
    const anchor = k === 0 ? "start" : k === 4 ? "end" : "middle";
    root.append(svg("text", { x: px(xv), y: H - PAD.bottom + 14, "text-anchor": anchor },
      tickLabel(xv)));
    root.append(svg("text", { x: PAD.left - 4, y: py(yv) + 4, "text-anchor": "end" },
      logY ? `1e${yv.toFixed(1)}` : tickLabel(yv)));
  }
  root.append(svg("text", { x: (W + PAD.left) / 2, y: H - 6, "text-anchor": "middle" }, xLabel));
  root.append(svg("text", { x: 12, y: (H - PAD.bottom) / 2, "text-anchor": "middle",
    transform: `rotate(-90 12 ${(H - PAD.bottom) / 2})` }, logY ? `log ${yLabel}` : yLabel));
  root.append(svg("polyline", { class: "line",
    points: pts.map(([a, b]) => `${px(a).toFixed(1)},${py(b).toFixed(1)}`).join(" ") }));
  return root;
}
