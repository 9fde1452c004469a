// A range filter over a histogram: two native range inputs (keyboard and screen reader
// friendly) on top of the bars, and two number inputs for exact values. Values are in the
// canonical unit (eV, eV/Å, μB); the histogram arrives in SI and is converted here.

import { h, label, num, CANONICAL, FIELD, toCanonical } from "./lib.js";

const STEPS = 400;
const SVG = "http://www.w3.org/2000/svg";

export class RangeFacet {
  /** bounds: [min, max] over everything the viewer can see, canonical unit. */
  constructor(field, bounds, { onChange }) {
    this.field = field;
    this.si = FIELD[field]?.unit || null;
    this.unit = this.si ? CANONICAL[this.si] : "";
    this.isInt = FIELD[field]?.kind === "int";
    [this.min, this.max] = bounds;
    if (this.max <= this.min) this.max = this.min + 1;
    this.onChange = onChange;
    this.value = [null, null];
    const name = label(field);
    const id = `r-${field}`;
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("viewBox", `0 0 ${STEPS} 40`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.svg.setAttribute("class", "hist");
    this.svg.setAttribute("aria-hidden", "true");
    const mk = (which) => h("input", {
      type: "range", min: 0, max: STEPS, step: 1, value: which === "lo" ? 0 : STEPS,
      class: `thumb ${which}`, "aria-label": `${name} ${which === "lo" ? "minimum" : "maximum"}`,
      id: `${id}-${which}`,
      on: {
        input: () => this.dragged(which),
        change: () => this.commit(which),
      },
    });
    this.lo = mk("lo");
    this.hi = mk("hi");
    const box = (which) => h("input", {
      type: "number", inputmode: "decimal", class: "num", step: "any",
      "aria-label": `${name} ${which === "lo" ? "from" : "to"}${this.unit ? ` (${this.unit})` : ""}`,
      id: `${id}-${which}-n`,
      on: { change: () => this.typed(which) },
    });
    this.loN = box("lo");
    this.hiN = box("hi");
    this.el = h("section", { class: "facet range", "data-field": field },
      h("h3", {}, name, this.unit ? h("span", { class: "unit" }, ` (${this.unit})`) : null,
        h("button", { type: "button", class: "link small reset", hidden: true,
          "aria-label": `Clear ${name}`, on: { click: () => this.set([null, null], true) } },
        "clear")),
      h("div", { class: "slider" }, this.svg, h("div", { class: "track" }), this.lo, this.hi),
      h("div", { class: "range-nums" }, this.loN, h("span", { "aria-hidden": "true" }, "–"),
        this.hiN));
    this.sync();
  }

  pos(v) {
    return Math.round(((v - this.min) / (this.max - this.min)) * STEPS);
  }

  at(step) {
    const v = this.min + (step / STEPS) * (this.max - this.min);
    return this.isInt ? Math.round(v) : Number(v.toPrecision(4));
  }

  dragged(which) {
    let a = Number(this.lo.value);
    let b = Number(this.hi.value);
    if (a > b) {
      if (which === "lo") a = b;
      else b = a;
      this.lo.value = a;
      this.hi.value = b;
    }
    if (which === "lo" || a === b) this.loN.value = num(this.at(a));
    if (which === "hi" || a === b) this.hiN.value = num(this.at(b));
    this.paint(a, b);
  }

  /** A released thumb: that side takes the thumb's value, the other side keeps its own. */
  commit(which) {
    const value = [...this.value];
    if (which === "lo") {
      const a = Number(this.lo.value);
      value[0] = a <= 0 ? null : this.at(a);
      if (value[1] !== null && value[0] !== null && value[0] > value[1]) value[1] = value[0];
    } else {
      const b = Number(this.hi.value);
      value[1] = b >= STEPS ? null : this.at(b);
      if (value[0] !== null && value[1] !== null && value[1] < value[0]) value[0] = value[1];
    }
    this.set(value, true);
  }

  /** A typed bound; the other side keeps its value (the boxes show rounded numbers). */
  typed(which) {
    const input = which === "lo" ? this.loN : this.hiN;
    let v = input.value === "" ? null : Number(input.value);
    if (v !== null && !Number.isFinite(v)) v = null;
    if (which === "lo" && v !== null && v <= this.min) v = null;
    if (which === "hi" && v !== null && v >= this.max) v = null;
    const value = [...this.value];
    value[which === "lo" ? 0 : 1] = v;
    this.set(value, true);
  }

  set(value, notify = false) {
    this.value = value;
    this.sync();
    if (notify) this.onChange(this.field, value);
  }

  sync() {
    const [a, b] = this.value;
    const pa = a === null ? 0 : Math.max(0, this.pos(a));
    const pb = b === null ? STEPS : Math.min(STEPS, this.pos(b));
    this.lo.value = pa;
    this.hi.value = pb;
    this.loN.value = num(a === null ? this.min : a);
    this.hiN.value = num(b === null ? this.max : b);
    this.el.querySelector(".reset").hidden = a === null && b === null;
    this.el.classList.toggle("active", a !== null || b !== null);
    this.paint(pa, pb);
  }

  /** Bars from a histogram aggregation (SI lower edges, equal widths). */
  setHistogram(hist) {
    this.bars = [];
    if (hist?.data?.length) {
      const width = toCanonical(this.si, hist.interval);
      for (const bin of hist.data) {
        const x0 = toCanonical(this.si, bin.value);
        this.bars.push([x0, x0 + width, bin.count]);
      }
    }
    this.draw();
  }

  draw() {
    this.svg.replaceChildren();
    const bars = this.bars || [];
    const top = Math.max(1, ...bars.map((b) => b[2]));
    for (const [x0, x1, n] of bars) {
      if (!n) continue;
      const r = document.createElementNS(SVG, "rect");
      const a = Math.max(0, this.pos(x0));
      const b = Math.min(STEPS, Math.max(a + 1, this.pos(x1)));
      const hgt = 4 + 36 * (Math.sqrt(n) / Math.sqrt(top));
      r.setAttribute("x", a);
      r.setAttribute("width", Math.max(1, b - a - 0.6));
      r.setAttribute("y", 40 - hgt);
      r.setAttribute("height", hgt);
      r.dataset.lo = a;
      r.dataset.hi = b;
      this.svg.append(r);
    }
    this.paint(Number(this.lo.value), Number(this.hi.value));
  }

  paint(a, b) {
    for (const r of this.svg.children) {
      const inside = Number(r.dataset.hi) > a && Number(r.dataset.lo) < b;
      r.setAttribute("class", inside ? "in" : "out");
    }
  }
}
