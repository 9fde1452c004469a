// The search page: periodic table, term facets, range sliders over histograms, the results
// table, and downloads. The whole search lives in the URL.

import {
  $, h, clear, api, auth, label, fmt, num, FIELD, FIELDS, RANGE_FIELDS, TERM_FACETS,
  ELEMENT_OPS, CANONICAL, UNITS, toCanonical, stateFromURL, stateParams, buildQuery, debounce,
  download, toast, alertBox, unitSelect, displayUnit, markInteractive, normalizeFormula, formulaNodes,
} from "./lib.js";
import { PeriodicTable, compact } from "./ptable.js";
import { RangeFacet } from "./slider.js";

const DEFAULT_COLS = [
  "formula_reduced", "space_group_symbol", "crystal_system", "n_sites", "program_name",
  "method_type", "band_gap", "formation_energy_per_atom",
];
const NOT_SORTABLE = new Set(["elements"]);
const TERM_ORDER = {
  crystal_system: ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal",
    "hexagonal", "cubic"],
};
const SHOW_TERMS = 8;
const HIST_BINS = 32;

const state = stateFromURL();
if (!state.cols.length) state.cols = [...DEFAULT_COLS];
let pageSize = 50;
let cursors = [null]; // page_after_value of each page we have been on
let pageIndex = 0;
let seq = 0; // increments on every change; late answers to old changes are dropped
let bounds = null; // {field: [min, max] canonical}
let total = null;
const ranges = new Map(); // field -> RangeFacet
const termBoxes = new Map(); // field -> {el, list, more}
let lastTerms = {};

// -- building blocks ----------------------------------------------------------------------

const ptable = new PeriodicTable($("#ptable"), { onToggle: toggleElement });

function toggleElement(sym) {
  const i = state.elements.indexOf(sym);
  if (i >= 0) state.elements.splice(i, 1);
  else state.elements.push(sym);
  changed();
}

for (const radio of document.querySelectorAll('#elop input')) {
  radio.checked = radio.value === state.elop;
  radio.addEventListener("change", () => {
    state.elop = radio.value;
    if (state.elements.length) changed();
    else syncChrome();
  });
}

const formulaInput = $("#formula");
formulaInput.value = state.formula;
formulaInput.addEventListener("input", debounce(() => {
  const text = formulaInput.value.trim();
  if (text && normalizeFormula(text) === null) {
    formulaInput.setAttribute("aria-invalid", "true");
    formulaInput.title = "Write a formula like Ga2O3";
    return;
  }
  formulaInput.removeAttribute("aria-invalid");
  formulaInput.title = "";
  state.formula = text;
  changed();
}, 350));

$("#clear-all").addEventListener("click", () => {
  state.elements = [];
  state.terms = {};
  state.ranges = {};
  state.formula = "";
  state.upload_id = "";
  formulaInput.value = "";
  for (const r of ranges.values()) r.set([null, null]);
  changed();
});

$("#page-size").addEventListener("change", (e) => {
  pageSize = Number(e.target.value);
  cursors = [null];
  pageIndex = 0;
  results();
});
$("#prev").addEventListener("click", () => {
  if (pageIndex > 0) {
    pageIndex -= 1;
    results();
  }
});
$("#next").addEventListener("click", () => {
  if (cursors[pageIndex + 1]) {
    pageIndex += 1;
    results();
  }
});

// -- the URL and the chips ----------------------------------------------------------------

function syncURL(push) {
  const q = stateParams(state).toString();
  const url = q ? `?${q}` : location.pathname;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  $("#plot-link").href = `/plot?${stateParams(state, { withView: false })}`;
}

window.addEventListener("popstate", () => {
  Object.assign(state, stateFromURL());
  if (!state.cols.length) state.cols = [...DEFAULT_COLS];
  formulaInput.value = state.formula;
  for (const [f, r] of ranges) r.set(state.ranges[f] || [null, null]);
  changed(false);
});

function chip(text, onRemove) {
  return h("span", { class: "chip" }, text,
    h("button", { type: "button", "aria-label": `Remove filter ${text}`, on: { click: onRemove } },
      "×"));
}

function syncChrome() {
  ptable.update(lastTerms.elements || {}, state.elements);
  for (const radio of document.querySelectorAll('#elop input')) {
    radio.checked = radio.value === state.elop;
  }
  $("#elements-hint").textContent = state.elements.length
    ? `${ELEMENT_OPS[state.elop]}: ${state.elements.join(" ")}`
    : "click elements to filter";
  const chips = [];
  if (state.elements.length) {
    chips.push(chip(`Elements ${ELEMENT_OPS[state.elop]}: ${state.elements.join(" ")}`, () => {
      state.elements = [];
      changed();
    }));
  }
  if (state.formula) {
    chips.push(chip(`Formula ${state.formula}`, () => {
      state.formula = "";
      formulaInput.value = "";
      changed();
    }));
  }
  if (state.upload_id) {
    chips.push(chip(`Upload ${state.upload_id.slice(0, 8)}…`, () => {
      state.upload_id = "";
      changed();
    }));
  }
  for (const [field, vals] of Object.entries(state.terms)) {
    if (!vals.length) continue;
    chips.push(chip(`${label(field)}: ${vals.join(", ")}`, () => {
      delete state.terms[field];
      changed();
    }));
  }
  for (const [field, [lo, hi]] of Object.entries(state.ranges)) {
    const u = CANONICAL[FIELD[field]?.unit] || "";
    const text = `${label(field)} ${lo === null ? "≤" : num(lo)}${lo !== null && hi !== null
      ? "–" : ""}${hi === null ? "" : (lo === null ? " " : "") + num(hi)}${lo !== null &&
      hi === null ? " ≤" : ""} ${u}`.replace(/\s+/g, " ").trim();
    chips.push(chip(text, () => {
      delete state.ranges[field];
      ranges.get(field)?.set([null, null]);
      changed();
    }));
  }
  clear($("#chips"), chips);
}

// -- changes ------------------------------------------------------------------------------

function changed(push = true) {
  performance.clearMarks("bmx:change");
  performance.mark("bmx:change");
  cursors = [null];
  pageIndex = 0;
  syncURL(push);
  syncChrome();
  const s = ++seq;
  document.body.dataset.pending = "1";
  Promise.allSettled([results(), facets(s)]).then(() => {
    if (s !== seq) return;
    performance.clearMarks("bmx:facets");
    performance.mark("bmx:facets");
    performance.measure("bmx:facet-to-facets", "bmx:change", "bmx:facets");
    delete document.body.dataset.pending;
  });
}

// -- results ------------------------------------------------------------------------------

function required() {
  return [...new Set(["entry_id", "formula_reduced", ...state.cols])];
}

let resultsAbort = null;
let resultsCall = 0;

async function results() {
  resultsAbort?.abort();
  resultsAbort = new AbortController();
  const call = ++resultsCall;
  const pagination = { page_size: pageSize, order: state.order };
  if (state.sort) pagination.order_by = state.sort;
  if (cursors[pageIndex]) pagination.page_after_value = cursors[pageIndex];
  let res;
  try {
    res = await api.query({
      query: buildQuery(state), pagination, required: required(), total: true,
    }, { signal: resultsAbort.signal });
  } catch (err) {
    if (err.name === "AbortError") return;
    clear($("#results-error"), alertBox(`The search failed: ${err.message}`));
    $("#total").textContent = "No results";
    return;
  }
  if (call !== resultsCall) return;
  clear($("#results-error"));
  total = res.total;
  cursors[pageIndex + 1] = res.next_page_after_value;
  renderTable(res.data);
  const first = pageIndex * pageSize + (res.data.length ? 1 : 0);
  $("#total").textContent = `${total.toLocaleString("en")} ${total === 1 ? "entry" : "entries"}`;
  $("#page-info").textContent = res.data.length
    ? `${first.toLocaleString("en")}–${(first + res.data.length - 1).toLocaleString("en")}`
    : "";
  $("#prev").disabled = pageIndex === 0;
  $("#next").disabled = !res.next_page_after_value;
  $("#download-hint").textContent =
    `All ${total.toLocaleString("en")} matching entries you may read.`;
  const table = $("#results");
  table.dataset.seq = String(Number(table.dataset.seq || 0) + 1);
  performance.clearMarks("bmx:results");
  performance.mark("bmx:results");
  if (performance.getEntriesByName("bmx:change").length) {
    performance.measure("bmx:facet-to-results", "bmx:change", "bmx:results");
  }
}

function headerCell(field) {
  const f = FIELD[field];
  const unit = f?.kind === "float" ? displayUnit(f.unit) : "";
  const text = `${label(field)}${unit ? ` (${unit})` : ""}`;
  if (NOT_SORTABLE.has(field)) return h("th", { scope: "col" }, text);
  const active = state.sort === field;
  const dir = active ? (state.order === "desc" ? "descending" : "ascending") : null;
  return h("th", { scope: "col", "aria-sort": dir || "none" },
    h("button", {
      type: "button", class: "sort", "data-field": field,
      on: {
        click: () => {
          if (state.sort === field) state.order = state.order === "asc" ? "desc" : "asc";
          else {
            state.sort = field;
            state.order = f?.kind === "float" ? "desc" : "asc";
          }
          changed();
        },
      },
    }, text, h("span", { class: "arrow", "aria-hidden": "true" },
      active ? (state.order === "desc" ? " ▼" : " ▲") : " ↕")));
}

function cell(field, row) {
  const v = row[field];
  if (field === "formula_reduced") {
    return h("td", {}, h("a", { href: `/entry/${encodeURIComponent(row.entry_id)}` },
      formulaNodes(v || row.entry_id)));
  }
  if (field === "entry_id") {
    return h("td", { class: "mono" },
      h("a", { href: `/entry/${encodeURIComponent(v)}` }, v.slice(0, 10) + "…"));
  }
  const f = FIELD[field];
  const numeric = f && (f.kind === "float" || f.kind === "int");
  return h("td", { class: numeric ? "num" : null }, fmt(field, v, false));
}

const selecting = !!auth.user();

function renderTable(rows) {
  const cols = state.cols.includes("formula_reduced")
    ? state.cols : ["formula_reduced", ...state.cols];
  const head = $("#results thead");
  const all = selecting ? h("input", { type: "checkbox", "aria-label": "Tick all on this page",
    on: {
      change: (e) => {
        for (const box of document.querySelectorAll("#results tbody input")) {
          box.checked = e.target.checked;
        }
      },
    } }) : null;
  clear(head, h("tr", {}, selecting ? h("th", { scope: "col", class: "tick" }, all) : null,
    cols.map(headerCell)));
  const body = $("#results tbody");
  if (!rows.length) {
    clear(body, h("tr", {}, h("td", { colspan: cols.length + 1, class: "empty" },
      "No entries match. Remove a filter to see more.")));
    return;
  }
  clear(body, rows.map((row) => h("tr", { "data-entry": row.entry_id },
    selecting ? h("td", { class: "tick" }, h("input", { type: "checkbox", value: row.entry_id,
      "aria-label": `Tick ${row.formula_reduced || row.entry_id}` })) : null,
    cols.map((c) => cell(c, row)))));
}

async function datasetMenu() {
  const menu = h("details", { class: "menu", id: "dataset-menu" },
    h("summary", { class: "button small" }, "Add to dataset"));
  const body = h("div", { class: "menu-body" });
  menu.append(body);
  $("#plot-link").before(menu);
  menu.addEventListener("toggle", async () => {
    if (!menu.open) return;
    const me = auth.user().username;
    let mine = [];
    try {
      mine = (await api.get("/datasets")).filter((d) => !d.frozen && d.owner === me);
    } catch (err) {
      clear(body, alertBox(err.message));
      return;
    }
    if (!mine.length) {
      clear(body, h("p", { class: "hint" }, "You have no open dataset. ",
        h("a", { href: "/datasets" }, "Make one")));
      return;
    }
    const pick = h("select", { id: "dataset-pick" },
      mine.map((d) => h("option", { value: d.dataset_id }, `${d.name} (${d.n_entries})`)));
    clear(body, h("label", {}, "Dataset ", pick), h("button", {
      type: "button", class: "primary small", id: "add-to-dataset",
      on: {
        click: async () => {
          const ids = [...document.querySelectorAll("#results tbody input:checked")]
            .map((i) => i.value);
          if (!ids.length) {
            toast("Tick entries in the table first", "error");
            return;
          }
          try {
            const d = await api.post(`/datasets/${encodeURIComponent(pick.value)}/entries`,
              { entry_ids: ids });
            toast(`Added ${ids.length} to ${d.name} (${d.n_entries} entries)`, "ok");
            menu.open = false;
          } catch (err) {
            toast(err.message, "error");
          }
        },
      },
    }, "Add ticked entries"));
  });
}

// -- columns and units --------------------------------------------------------------------

function renderColumns() {
  const box = $("#columns");
  const choices = FIELDS.filter((f) => f.name !== "formula_reduced");
  clear(box,
    h("fieldset", {}, h("legend", {}, "Columns"),
      h("div", { class: "column-list" }, choices.map((f) => h("label", {},
        h("input", {
          type: "checkbox", value: f.name, checked: state.cols.includes(f.name),
          on: {
            change: (e) => {
              if (e.target.checked) state.cols.push(f.name);
              else state.cols = state.cols.filter((c) => c !== f.name);
              syncURL(false);
              results();
            },
          },
        }), ` ${label(f.name)}`)))),
    h("fieldset", { class: "units" }, h("legend", {}, "Units"),
      Object.keys(UNITS).filter((si) => si !== "m").map((si) =>
        h("label", {}, `${si === "J" ? "Energy" : si === "N" ? "Force" : "Magnetic moment"} `,
          unitSelect(si, `unit-${si}`)))));
}

window.addEventListener("bmx:units", () => results());

// -- downloads ----------------------------------------------------------------------------

$("#download").addEventListener("click", async () => {
  const format = $("#download-format").value;
  const body = { query: buildQuery(state) };
  const big = (total || 0) > 20000;
  const btn = $("#download");
  btn.disabled = true;
  btn.textContent = "Preparing…";
  try {
    if (format === "raw") {
      await download("/api/v1/entries/raw/query",
        { method: "POST", body, name: "bigmax-raw.zip", stream: big });
    } else {
      await download(`/api/v1/entries/export?format=${format}`,
        { method: "POST", body, name: `bigmax-entries.${format}`, stream: big });
    }
  } catch (err) {
    toast(`Download failed: ${err.message}`, "error");
  } finally {
    btn.disabled = false;
    btn.textContent = "Download";
  }
});

// -- facets -------------------------------------------------------------------------------

function termBox(field) {
  if (termBoxes.has(field)) return termBoxes.get(field);
  const list = h("ul", { class: "terms", role: "list" });
  const more = h("button", { type: "button", class: "link small", hidden: true,
    "aria-expanded": "false",
    on: {
      click: () => {
        box.expanded = !box.expanded;
        more.setAttribute("aria-expanded", String(box.expanded));
        renderTerms(field, box.counts || []);
      },
    } }, "show all");
  const el = h("section", { class: "facet", "data-field": field },
    h("h3", { id: `t-${field}` }, label(field)), list, more);
  const box = { el, list, more, expanded: false };
  termBoxes.set(field, box);
  $("#term-facets").append(el);
  return box;
}

function renderTerms(field, counts) {
  const box = termBox(field);
  box.counts = counts;
  const selected = state.terms[field] || [];
  const seen = new Map(counts.map((c) => [c.value, c.count]));
  for (const v of selected) if (!seen.has(v)) seen.set(v, 0);
  let items = [...seen.entries()];
  const order = TERM_ORDER[field];
  if (order) items.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  else if (field === "n_elements") items.sort((a, b) => a[0] - b[0]);
  const hidden = items.length > SHOW_TERMS && !box.expanded;
  if (hidden) {
    const top = items.slice(0, SHOW_TERMS);
    items = [...top, ...items.slice(SHOW_TERMS).filter(([v]) => selected.includes(v))];
  }
  box.more.hidden = seen.size <= SHOW_TERMS;
  box.more.textContent = box.expanded ? "show fewer" : `show all ${seen.size}`;
  box.el.hidden = seen.size === 0;
  clear(box.list, items.map(([value, count]) => h("li", {}, h("label", {},
    h("input", {
      type: "checkbox", checked: selected.includes(value), "data-value": value,
      on: {
        change: (e) => {
          const cur = state.terms[field] || [];
          state.terms[field] = e.target.checked ? [...cur, value]
            : cur.filter((x) => x !== value);
          if (!state.terms[field].length) delete state.terms[field];
          changed();
        },
      },
    }),
    h("span", { class: "term" }, String(value)),
    h("span", { class: "count" }, compact(count))))));
}

function aggFor(field) {
  if (field === "elements") return { terms: { quantity: "elements", size: 118 } };
  if (TERM_FACETS[field]) {
    return { terms: { quantity: field, size: field === "space_group_number" ? 230 : 50 } };
  }
  const [lo, hi] = bounds[field];
  const si = FIELD[field].unit;
  const span = (hi - lo) * (si && UNITS[si] ? UNITS[si][CANONICAL[si]] : 1);
  let interval = span / HIST_BINS;
  if (FIELD[field].kind === "int") interval = Math.max(1, Math.ceil(interval));
  return { histogram: { quantity: field, interval } };
}

let facetsAbort = null;
let facetsSeq = -1;

/** Counts and histograms for change ``s``: ``parts`` is "terms" (elements and term facets),
 * "ranges" (histograms; they need the bounds) or "all". */
async function facets(s, parts = "all") {
  if (s !== facetsSeq) {
    facetsAbort?.abort();
    facetsAbort = new AbortController();
    facetsSeq = s;
  }
  const ranged = bounds ? Object.keys(bounds) : [];
  const all = [
    ...(parts === "ranges" ? [] : ["elements", ...Object.keys(TERM_FACETS)]),
    ...(parts === "terms" ? [] : ranged),
  ];
  const active = (f) => (f === "elements" ? state.elements.length > 0
    : TERM_FACETS[f] ? (state.terms[f] || []).length > 0 : !!state.ranges[f]);
  // Facets without a condition of their own share the full query; they go in three requests
  // (elements, terms, histograms) so that each part is drawn as soon as it is counted.
  const idle = all.filter((f) => !active(f));
  const groups = [
    [null, idle.filter((f) => f === "elements")],
    [null, idle.filter((f) => TERM_FACETS[f])],
    [null, idle.filter((f) => bounds && bounds[f])],
    ...all.filter(active).map((f) => [f, [f]]),
  ];
  const calls = groups.filter(([, fields]) => fields.length).map(async ([omit, fields]) => {
    const res = await api.query({
      query: buildQuery(state, omit), pagination: { page_size: 0 }, total: false,
      aggregations: Object.fromEntries(fields.map((f) => [f, aggFor(f)])),
    }, { signal: facetsAbort.signal });
    if (s !== seq) return;
    for (const f of fields) showFacet(f, res.aggregations[f]);
  });
  try {
    await Promise.all(calls);
  } catch (err) {
    if (err.name !== "AbortError") toast(`Facet counts failed: ${err.message}`, "error");
  }
}

function showFacet(field, agg) {
  if (field === "elements") {
    lastTerms.elements = Object.fromEntries(agg.terms.data.map((d) => [d.value, d.count]));
    ptable.update(lastTerms.elements, state.elements);
  } else if (TERM_FACETS[field]) {
    renderTerms(field, agg.terms.data);
  } else {
    ranges.get(field)?.setHistogram(agg.histogram);
  }
}

const BOUNDS_KEY = "bigmax.bounds";
const BOUNDS_TTL_MS = 10 * 60 * 1000;

/** The sliders' ends over everything the viewer may see. They only set each slider's scale
 * (a slider at its end is an open bound), so they are kept for ten minutes per viewer: most
 * of them are full scans of unindexed columns. */
async function fetchBounds() {
  const who = auth.user()?.username || "";
  try {
    const kept = JSON.parse(localStorage.getItem(BOUNDS_KEY) || "null");
    if (kept && kept.who === who && Date.now() - kept.at < BOUNDS_TTL_MS) return kept.res;
  } catch {
    // unreadable: ask again
  }
  const res = await api.query({
    pagination: { page_size: 0 }, total: false,
    aggregations: Object.fromEntries(RANGE_FIELDS.map((f) => [f, { min_max: { quantity: f } }])),
  });
  localStorage.setItem(BOUNDS_KEY, JSON.stringify({ who, at: Date.now(), res }));
  return res;
}

async function loadBounds() {
  const res = await fetchBounds();
  bounds = {};
  const box = $("#range-facets");
  for (const f of RANGE_FIELDS) {
    const mm = res.aggregations[f]?.min_max;
    if (!mm || mm.min === null || mm.max === null) continue;
    const si = FIELD[f].unit;
    bounds[f] = [toCanonical(si, mm.min), toCanonical(si, mm.max)];
    const r = new RangeFacet(f, bounds[f], {
      onChange: (field, [lo, hi]) => {
        if (lo === null && hi === null) delete state.ranges[field];
        else state.ranges[field] = [lo, hi];
        changed();
      },
    });
    if (state.ranges[f]) r.set(state.ranges[f]);
    ranges.set(f, r);
    box.append(r.el);
  }
  if (!ranges.size) bounds = {};
}

// -- start --------------------------------------------------------------------------------

async function start() {
  for (const f of Object.keys(TERM_FACETS)) termBox(f).el.hidden = true;
  renderColumns();
  syncURL(false);
  syncChrome();
  const s = ++seq;
  document.body.dataset.pending = "1";
  const boundsReady = loadBounds().catch((err) => {
    bounds = false;
    toast(`Could not load the filters: ${err.message}`, "error");
  });
  await results();
  // the results, the periodic table, sorting, paging and downloads work now; the counts, the
  // term facets and the sliders are drawn as they arrive
  markInteractive();
  const terms = facets(s, "terms");
  await boundsReady;
  await Promise.all([terms, bounds ? facets(seq, "ranges") : null]);
  if (s === seq) {
    performance.mark("bmx:complete");
    delete document.body.dataset.pending;
  }
}

if (selecting) datasetMenu();
// on a phone the periodic table starts folded unless elements are chosen
if (window.matchMedia("(max-width: 600px)").matches && !state.elements.length) {
  $("#elements-panel").open = false;
}
start();
