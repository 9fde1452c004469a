// The material page: every entry with the same reduced formula (and space group) side by side,
// with a bar per property to compare them.

import {
  $, h, clear, api, fmt, label, FIELD, displayUnit, unitSelect, alertBox,
  markInteractive, setTitle, formulaNodes, normalizeFormula,
} from "./lib.js";

const params = new URLSearchParams(location.search);
const formula = normalizeFormula(params.get("formula") || "") || params.get("formula") || "";
const sg = params.get("sg") ? Number(params.get("sg")) : null;
const ROWS = [
  "space_group_symbol", "crystal_system", "n_sites", "dimensionality", "program_name",
  "method_type", "xc_functional", "band_gap", "band_gap_type", "formation_energy_per_atom",
  "energy_per_atom", "total_energy", "max_force", "magnetic_moment", "upload_id",
];
const PAGE = 12;
let entries = [];
let cursor = null;

function query() {
  const q = { formula_reduced: formula };
  if (sg) q.space_group_number = sg;
  return q;
}

async function load() {
  const pagination = { page_size: PAGE, order_by: "entry_id" };
  if (cursor) pagination.page_after_value = cursor;
  const res = await api.query({
    query: query(), pagination, required: ["entry_id", "formula_reduced", ...ROWS],
  });
  entries = entries.concat(res.data);
  cursor = res.next_page_after_value;
  $("#more").hidden = !cursor;
  $("#material-meta").textContent = `${res.total} ${res.total === 1 ? "entry" : "entries"}`;
  render();
}

function render() {
  const table = $("#compare");
  if (!entries.length) {
    clear(table, h("tbody", {}, h("tr", {}, h("td", { class: "empty" },
      "No entries of this material that you may see."))));
    return;
  }
  const head = h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Property"),
    entries.map((e, i) => h("th", { scope: "col" },
      h("a", { href: `/entry/${encodeURIComponent(e.entry_id)}`, title: e.entry_id },
        `Entry ${i + 1}`)))));
  const rows = [];
  for (const name of ROWS) {
    const vals = entries.map((e) => e[name]);
    if (vals.every((v) => v === null || v === undefined)) continue;
    const f = FIELD[name];
    const numeric = f?.kind === "float" || f?.kind === "int";
    const unit = f?.kind === "float" ? displayUnit(f.unit) : "";
    const nums = vals.filter((v) => typeof v === "number");
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    rows.push(h("tr", {}, h("th", { scope: "row" }, label(name), unit ? ` (${unit})` : ""),
      vals.map((v) => {
        if (name === "upload_id" && v) {
          return h("td", { class: "mono" }, h("a", { href: `/uploads/${encodeURIComponent(v)}` },
            `${v.slice(0, 8)}…`));
        }
        if (!numeric || typeof v !== "number") return h("td", {}, fmt(name, v, false));
        const best = f.kind === "float" && nums.length > 1 && v === lo && lo !== hi;
        const width = hi > lo ? 8 + (92 * (v - lo)) / (hi - lo) : 100;
        return h("td", { class: `num${best ? " best" : ""}`,
          title: best ? "lowest of these entries" : null },
        fmt(name, v, false), f.kind === "float" && nums.length > 1
          ? h("span", { class: "bar", style: { width: `${width}%` }, "aria-hidden": "true" })
          : null);
      })));
  }
  clear(table, head, h("tbody", {}, rows));
}

async function polymorphs() {
  const res = await api.query({
    query: { formula_reduced: formula }, pagination: { page_size: 0 }, total: false,
    aggregations: { sg: { terms: { quantity: "space_group_number", size: 50 } } },
  });
  const data = res.aggregations.sg.terms.data;
  if (data.length < 2 && sg) return;
  $("#polymorphs-card").hidden = false;
  clear($("#polymorphs"), data.map((d) => h("a", {
    class: `button small${d.value === sg ? " primary" : ""}`,
    href: `/material?formula=${encodeURIComponent(formula)}&sg=${d.value}`,
    "aria-current": d.value === sg ? "page" : null,
  }, `SG ${d.value} (${d.count})`)), sg ? h("a", {
    class: "button small", href: `/material?formula=${encodeURIComponent(formula)}` },
  "all space groups") : null);
}

async function start() {
  if (!formula) {
    clear($("#material-error"), alertBox("Give a formula: /material?formula=GaN&sg=186"));
    markInteractive();
    return;
  }
  setTitle(formula);
  clear($("#material-title"), formulaNodes(formula), sg ? h("span", { class: "meta" },
    ` · space group ${sg}`) : null);
  clear($("#compare-tools"), ["J", "N"].map((si) => h("label", {},
    si === "J" ? "Energy " : "Force ", unitSelect(si, `unit-${si}`))));
  window.addEventListener("bmx:units", render);
  $("#more").addEventListener("click", () => load());
  try {
    await Promise.all([load(), polymorphs()]);
  } catch (err) {
    clear($("#material-error"), alertBox(`Could not load the material: ${err.message}`));
  }
  markInteractive();
}

start();
