// The plot explorer: any two properties of the current search against each other, coloured by
// a third, with hover and click-through to the entry; and a histogram of any property,
// counted by the server over every match.

import {
  $, h, clear, api, label, FIELD, FIELDS, UNITS, ELEMENT_OPS, CANONICAL, displayUnit,
  toDisplay, unitSelect, stateFromURL, stateParams, buildQuery, alertBox, markInteractive,
  toast,
} from "./lib.js";

const NUMERIC = FIELDS.filter((f) => f.kind === "float" || f.kind === "int").map((f) => f.name);
const state = stateFromURL();
const params = new URLSearchParams(location.search);
const pick = (key, fallback) => (NUMERIC.includes(params.get(key)) ? params.get(key) : fallback);
const view = {
  x: pick("x", "band_gap"),
  y: pick("y", "formation_energy_per_atom"),
  c: params.get("c") === "" ? "" : pick("c", "n_elements"),
  n: [1000, 3000, 10000].includes(Number(params.get("n"))) ? Number(params.get("n")) : 1000,
  hp: pick("hp", "band_gap"),
  hb: [20, 40, 80].includes(Number(params.get("hb"))) ? Number(params.get("hb")) : 40,
};
const Plotly = window.Plotly;
const FONT = { family: "system-ui, sans-serif", size: 13, color: "#1a1f27" };

function axisTitle(name) {
  const f = FIELD[name];
  const unit = f?.kind === "float" ? displayUnit(f.unit) : "";
  return `${label(name)}${unit ? ` (${unit})` : ""}`;
}

function value(name, v) {
  return typeof v === "number" ? toDisplay(FIELD[name]?.unit, v) : null;
}

function syncURL() {
  const p = stateParams(state, { withView: false });
  for (const [k, v] of Object.entries(view)) p.set(k, v);
  history.replaceState(null, "", `?${p}`);
  $("#edit-search").href = `/?${stateParams(state, { withView: false })}`;
}

function filters() {
  const out = [];
  if (state.elements.length) out.push(`${ELEMENT_OPS[state.elop]}: ${state.elements.join(" ")}`);
  if (state.formula) out.push(`formula ${state.formula}`);
  if (state.upload_id) out.push(`upload ${state.upload_id.slice(0, 8)}…`);
  for (const [f, vals] of Object.entries(state.terms)) out.push(`${label(f)}: ${vals.join(", ")}`);
  for (const [f, [lo, hi]] of Object.entries(state.ranges)) {
    out.push(`${label(f)} ${lo ?? ""}…${hi ?? ""} ${CANONICAL[FIELD[f]?.unit] || ""}`.trim());
  }
  clear($("#plot-filters"), out.length ? out.map((t) => h("span", { class: "chip" }, t))
    : h("span", { class: "hint" }, "All entries (no filters)."));
}

function both(base, fields) {
  const conds = fields.filter(Boolean).map((f) => ({ not: { [f]: null } }));
  return base ? { and: [base, ...conds] } : { and: conds };
}

async function scatter() {
  const base = buildQuery(state);
  const fields = [...new Set([view.x, view.y, view.c].filter(Boolean))];
  const res = await api.query({
    query: both(base, [view.x, view.y]),
    pagination: { page_size: view.n },
    required: ["entry_id", "formula_reduced", ...fields],
  });
  const rows = res.data;
  performance.mark("bmx:scatter-data");
  $("#scatter-note").textContent = res.total > rows.length
    ? `${rows.length.toLocaleString("en")} of ${res.total.toLocaleString("en")} points`
    : `${rows.length.toLocaleString("en")} points`;
  const colour = view.c ? rows.map((r) => value(view.c, r[view.c])) : null;
  const trace = {
    type: "scatter", mode: "markers",
    x: rows.map((r) => value(view.x, r[view.x])),
    y: rows.map((r) => value(view.y, r[view.y])),
    customdata: rows.map((r) => r.entry_id),
    text: rows.map((r) => r.formula_reduced),
    hovertemplate: `<b>%{text}</b><br>${axisTitle(view.x)}: %{x}<br>${axisTitle(view.y)}: %{y}` +
      (view.c ? `<br>${axisTitle(view.c)}: %{marker.color}` : "") + "<extra></extra>",
    marker: {
      size: 7, opacity: 0.85, line: { width: rows.length > 1000 ? 0 : 0.5, color: "#ffffff" },
      color: colour || "#2f6fbd",
      colorscale: "Viridis",
      showscale: !!view.c,
      colorbar: view.c ? { title: { text: axisTitle(view.c), side: "right" }, thickness: 14 }
        : undefined,
    },
  };
  const layout = {
    margin: { l: 64, r: 16, t: 10, b: 52 }, font: FONT, hovermode: "closest",
    xaxis: { title: { text: axisTitle(view.x) }, zeroline: false, gridcolor: "#e6eaf0" },
    yaxis: { title: { text: axisTitle(view.y) }, zeroline: false, gridcolor: "#e6eaf0" },
    plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
  };
  const el = $("#scatter");
  await Plotly.react(el, [trace], layout, { responsive: true, displaylogo: false });
  performance.mark("bmx:scatter-drawn");
  if (!el.dataset.bound) {
    el.dataset.bound = "1";
    el.on("plotly_click", (ev) => {
      const id = ev.points?.[0]?.customdata;
      if (id) location.href = `/entry/${encodeURIComponent(id)}`;
    });
  }
  el.dataset.points = String(rows.length);
  $("#plot-count").textContent = `${res.total.toLocaleString("en")} entries have both values.`;
}

async function histogram() {
  const f = FIELD[view.hp];
  const res = await api.query({
    query: buildQuery(state), pagination: { page_size: 0 }, total: true,
    aggregations: { h: { histogram: { quantity: view.hp, buckets: view.hb } } },
  });
  const hist = res.aggregations.h.histogram;
  performance.mark("bmx:hist-data");
  const width = hist.interval || 0;
  const data = hist.data || [];
  $("#hist-note").textContent = `${data.reduce((s, b) => s + b.count, 0).toLocaleString("en")}` +
    ` of ${res.total.toLocaleString("en")} entries have a value`;
  const trace = {
    type: "bar",
    x: data.map((b) => value(view.hp, b.value + width / 2)),
    y: data.map((b) => b.count),
    width: data.map(() => toDisplay(f.unit, width) * 0.96),
    marker: { color: "#2f6fbd" },
    hovertemplate: `${axisTitle(view.hp)}: %{x}<br>entries: %{y}<extra></extra>`,
  };
  await Plotly.react($("#histogram"), [trace], {
    margin: { l: 56, r: 16, t: 10, b: 52 }, font: FONT, bargap: 0,
    xaxis: { title: { text: axisTitle(view.hp) }, gridcolor: "#e6eaf0" },
    yaxis: { title: { text: "entries" }, gridcolor: "#e6eaf0" },
    plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
  }, { responsive: true, displaylogo: false });
  performance.mark("bmx:hist-drawn");
}

function selectOf(id, key, withNone = false) {
  const sel = $(id);
  clear(sel, withNone ? h("option", { value: "" }, "none") : null,
    NUMERIC.map((n) => h("option", { value: n }, label(n))));
  sel.value = view[key];
  sel.addEventListener("change", () => {
    view[key] = sel.value;
    syncURL();
    draw(key === "hp" || key === "hb" ? "hist" : "scatter");
  });
}

const failed = (err) => toast(`The plot failed: ${err.message}`, "error");

/** Draw the scatter and/or the histogram; resolves with [scatter, histogram] promises. */
function draw(which = "both") {
  const sc = which !== "hist" ? scatter().catch(failed) : null;
  const hi = which !== "scatter" ? histogram().catch(failed) : null;
  return [sc, hi];
}

async function start() {
  if (!Plotly) {
    $("#scatter").replaceWith(alertBox("The plotting library is missing: run `make web`."));
    markInteractive();
    return;
  }
  selectOf("#x", "x");
  selectOf("#y", "y");
  selectOf("#c", "c", true);
  selectOf("#hp", "hp");
  for (const [id, key] of [["#n", "n"], ["#hb", "hb"]]) {
    const sel = $(id);
    sel.value = String(view[key]);
    sel.addEventListener("change", () => {
      view[key] = Number(sel.value);
      syncURL();
      draw(key === "hb" ? "hist" : "scatter");
    });
  }
  clear($("#plot-units"), h("div", { class: "row" }, ["J", "N", "A*m**2"].map((si) =>
    h("label", {}, si === "J" ? "Energy" : si === "N" ? "Force" : "Moment",
      unitSelect(si, `unit-${Object.keys(UNITS).indexOf(si)}`)))));
  window.addEventListener("bmx:units", () => draw());
  filters();
  syncURL();
  document.body.dataset.pending = "1";
  const [sc, hi] = draw();
  await sc;
  markInteractive(); // the scatter answers hover and clicks; the histogram follows
  await hi;
  performance.mark("bmx:complete");
  delete document.body.dataset.pending;
}

start();
