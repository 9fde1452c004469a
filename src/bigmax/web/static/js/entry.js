// The entry page: 3D structure, material and symmetry, properties in switchable units,
// method, provenance, the upload's raw files and a tree of the processed data.

import {
  $, h, clear, api, fmt, num, label, FIELD, UNITS, displayUnit, toDisplay, unitSelect, download,
  toast, alertBox, markInteractive, setTitle, formulaNodes, bytes,
} from "./lib.js";
import { jsonTree } from "./jsontree.js";
import { lineChart } from "./curve.js";
import { StructureViewer, viewerControls, hasStructure, latticeParameters } from "./viewer.js";

const entryId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
let archive = null;

function kv(rows) {
  const body = rows.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "wrap" }, v)));
  if (!body.length) return h("p", { class: "hint" }, "Nothing recorded.");
  return h("table", { class: "data kv" }, h("tbody", {}, body));
}

function rawUrl(uploadId, path) {
  return `/api/v1/uploads/${encodeURIComponent(uploadId)}/raw/${
    path.split("/").map(encodeURIComponent).join("/")}`;
}

async function saveRaw(uploadId, path) {
  try {
    await download(rawUrl(uploadId, path), { name: path.split("/").pop() });
  } catch (err) {
    toast(`Download failed: ${err.message}`, "error");
  }
}

// -- sections -----------------------------------------------------------------------------

function head(a) {
  const m = a.results?.material || {};
  const formula = m.chemical_formula_reduced || a.mainfile;
  setTitle(formula);
  clear($("#entry-title"), m.chemical_formula_reduced ? formulaNodes(formula) : formula);
  $("#entry-id").textContent = a.entry_id;
  clear($("#entry-badges"),
    h("span", { class: `badge ${a.state === "success" ? "ok" : "failed"}` }, a.state),
    a.parser ? h("span", { class: "badge raw" }, `reader: ${a.parser}`) : null);
  const sg = m.symmetry?.space_group_number;
  const matUrl = `/material?formula=${encodeURIComponent(formula)}${sg ? `&sg=${sg}` : ""}`;
  clear($("#entry-links"),
    m.chemical_formula_reduced ? h("a", { class: "button small", href: matUrl },
      "All entries of this material") : null,
    h("a", { class: "button small", href: `/uploads/${encodeURIComponent(a.upload_id)}` },
      "Upload"),
    h("a", { class: "button small", href: `/?upload=${encodeURIComponent(a.upload_id)}` },
      "Search this upload"),
    h("button", { type: "button", class: "small", id: "download-mainfile",
      on: { click: () => saveRaw(a.upload_id, a.mainfile) } }, "Download main file"));
  if (a.errors?.length) {
    $("#entry-error").append(alertBox(a.errors.join("\n")));
  }
}

function structure(a) {
  const box = $("#structure");
  const s = a.results?.material?.structure;
  if (!hasStructure(s)) {
    clear(box, h("p", { class: "hint" }, "No atomic structure is stored for this entry."));
    return null;
  }
  if (!window.$3Dmol) {
    clear(box, alertBox("The 3D viewer's library is missing: run `make web` on the server."));
    return null;
  }
  const canvasBox = h("div", { class: "viewer", id: "viewer", role: "img",
    "aria-label": `3D structure of ${a.results.material.chemical_formula_reduced || "the entry"}:` +
      ` drag to rotate, scroll to zoom` });
  const status = h("p", { class: "hint", "aria-live": "polite" });
  clear(box, canvasBox);
  const viewer = new StructureViewer(canvasBox, s);
  const redraw = (opts) => {
    try {
      viewer.draw(opts);
      status.textContent = "";
    } catch (err) {
      status.textContent = err.message;
    }
  };
  box.append(viewerControls(viewer.periodic, redraw), status,
    h("div", { class: "legend", "aria-label": "Element colours" },
      viewer.colours().map(([sym, c]) => h("span", {}, h("i", { style: { background: c } }),
        sym))));
  redraw({});
  new ResizeObserver(() => viewer.resize()).observe(canvasBox);
  return viewer;
}

function material(a) {
  const m = a.results?.material || {};
  const s = m.structure;
  const counts = m.element_counts
    ? Object.entries(m.element_counts).map(([e, n]) => `${e} ${n}`).join(", ") : null;
  const rows = [
    ["Reduced formula", m.chemical_formula_reduced ? h("span", {},
      formulaNodes(m.chemical_formula_reduced)) : null],
    ["Hill formula", m.chemical_formula_hill ? h("span", {}, formulaNodes(m.chemical_formula_hill))
      : null],
    ["Anonymous formula", m.chemical_formula_anonymous],
    ["Elements", counts],
    ["Sites", m.n_sites],
    ["Dimensionality", m.dimensionality],
  ];
  if (hasStructure(s) && s.cell?.length === 3) {
    const p = latticeParameters(s.cell);
    rows.push(["Lattice a, b, c", `${num(p.a)}, ${num(p.b)}, ${num(p.c)} Å`]);
    rows.push(["Angles α, β, γ", `${num(p.alpha)}°, ${num(p.beta)}°, ${num(p.gamma)}°`]);
    rows.push(["Cell volume", `${num(p.volume)} Å³`]);
    rows.push(["Periodic", (s.pbc || []).map((x) => (x ? "yes" : "no")).join(", ")]);
  }
  clear($("#material"), kv(rows));
}

function experiment(a) {
  const e = a.results?.experiment;
  if (!e) return;
  $("#experiment-card").hidden = false;
  // an experiment without a structure: the structure-only cards would only say "nothing"
  if (!a.results?.material?.structure) {
    for (const id of ["#structure", "#material", "#symmetry", "#properties"]) {
      if ($(`${id} .hint`)) $(id).closest("section").hidden = true;
    }
  }
  const comp = e.composition ? Object.entries(e.composition).sort((p, q) => q[1] - p[1])
    .map(([el, f]) => `${el} ${num(100 * f, 3)}`).join(", ") + " at.%" : null;
  const summary = Object.entries(e.summary || {}).map(([k, q]) => [k.replace(/_/g, " "),
    `${typeof q.value === "number" ? num(q.value) : q.value}${q.unit ? ` ${q.unit}` : ""}`]);
  clear($("#experiment"), kv([
    ["Technique", e.technique],
    ["Instrument", e.instrument],
    ["File format", e.file_format],
    ["Events", e.n_events !== null && e.n_events !== undefined
      ? e.n_events.toLocaleString("en") : null],
    ["Composition", comp],
    ...summary,
  ]), (e.curves || []).map((c) => h("figure", { class: "curve" },
    lineChart({ title: c.title, x: c.x, y: c.y, xLabel: c.x_label, yLabel: c.y_label,
      logY: c.log_y }), h("figcaption", {}, c.title))));
}

function symmetry(a) {
  const sym = a.results?.material?.symmetry;
  if (!sym) {
    clear($("#symmetry"), h("p", { class: "hint" }, "No symmetry analysis for this entry."));
    return;
  }
  const wy = sym.wyckoff_letters
    ? Object.entries(sym.wyckoff_letters.reduce((acc, w) => ({ ...acc, [w]: (acc[w] || 0) + 1 }),
      {})).map(([w, n]) => `${n}×${w}`).join(", ") : null;
  const distinct = sym.equivalent_atoms ? new Set(sym.equivalent_atoms).size : null;
  clear($("#symmetry"), kv([
    ["Space group", sym.space_group_number
      ? `${sym.space_group_symbol || ""} (${sym.space_group_number})`.trim() : null],
    ["Hall symbol", sym.hall_symbol],
    ["Crystal system", sym.crystal_system],
    ["Bravais lattice", sym.bravais_lattice],
    ["Point group", sym.point_group],
    ["Wyckoff positions", wy],
    ["Inequivalent sites", distinct],
    ["Tolerance", sym.symprec ? `${num(sym.symprec * 1e10)} Å` : null],
  ]));
}

const PROPERTY_UNITS = { J: "J", N: "N", "A*m**2": "A*m**2", m: "m" };

function valueCell(value, si) {
  if (typeof value !== "number") return String(value);
  if (si && UNITS[si]) return `${num(toDisplay(si, value))} ${displayUnit(si)}`;
  if (si && si !== "1") return `${num(value)} ${si}`;
  return num(value);
}

function properties(a) {
  const props = a.results?.properties || {};
  const rows = [];
  const used = new Set();
  for (const [key, v] of Object.entries(props)) {
    if (key === "extra") continue;
    const si = FIELD[key]?.unit;
    if (si) used.add(si);
    if (v && typeof v === "object" && "value" in v) {
      rows.push([label(key), valueCell(v.value, si)]);
      if (v.type) rows.push([`${label(key)} type`, v.type]);
    } else if (typeof v === "number") {
      rows.push([label(key), valueCell(v, si)]);
    } else if (v !== null && typeof v !== "object") {
      rows.push([label(key), String(v)]);
    }
  }
  for (const [key, v] of Object.entries(props.extra || {})) {
    const si = PROPERTY_UNITS[v?.unit] || v?.unit;
    if (UNITS[si]) used.add(si);
    rows.push([key, v && typeof v === "object" ? valueCell(v.value, si) : String(v)]);
  }
  clear($("#properties"), rows.length ? kv(rows)
    : h("p", { class: "hint" }, "No properties recorded."));
  const names = { J: "Energy", N: "Force", "A*m**2": "Moment", m: "Length" };
  clear($("#unit-tools"), [...used].map((si) => h("label", {}, `${names[si]} `,
    unitSelect(si, `unit-${names[si].toLowerCase()}`))));
}

function method(a) {
  const m = a.results?.method || {};
  clear($("#method"), kv(Object.entries(m).map(([k, v]) => [label(k) === k
    ? k.replace(/_/g, " ") : label(k), typeof v === "object" ? JSON.stringify(v) : String(v)])));
}

function provenance(a) {
  const p = a.provenance || {};
  const files = (p.files || []).map((f) => h("div", {}, h("span", { class: "mono" }, f.path),
    f.sha256 ? h("span", { class: "hint mono", title: f.sha256 }, ` sha256 ${
      f.sha256.slice(0, 12)}…`) : null));
  clear($("#provenance"), kv([
    ["Upload", h("a", { href: `/uploads/${encodeURIComponent(a.upload_id)}`, class: "mono" },
      a.upload_id)],
    ["Main file", h("span", { class: "mono" }, a.mainfile + (a.child_key ? ` [${a.child_key}]`
      : ""))],
    ["Input files", files.length ? h("div", {}, files) : null],
    ["Reader", p.reader ? `${p.reader} ${p.reader_version || ""}`.trim() : a.parser],
    ["BigMax", p.bigmax_version],
    ["Created", fmt("created_at", a.created_at)],
    ["Processed", fmt("processed_at", p.processed_at || a.processed_at)],
    ["Authors", (a.authors || []).map((x) => (typeof x === "string" ? x : x.name)).join("; ")],
    ["Licence", a.license],
    ["References", (a.references || []).length ? h("ul", {}, a.references.map((r) =>
      h("li", {}, /^https?:\/\//.test(r) ? h("a", { href: r, rel: "noopener" }, r) : r))) : null],
  ]));
}

async function files(a) {
  const box = $("#files");
  let status;
  try {
    status = await api.get(`/uploads/${encodeURIComponent(a.upload_id)}?page_size=500`);
  } catch (err) {
    clear(box, h("p", { class: "hint" }, `The upload's files are not available: ${err.message}`));
    return;
  }
  const list = status.file_list;
  $("#files-tools").textContent = `${status.files} file${status.files === 1 ? "" : "s"}`;
  const folders = new Map();
  for (const f of list) {
    const dir = f.path.includes("/") ? f.path.slice(0, f.path.lastIndexOf("/")) : "";
    if (!folders.has(dir)) folders.set(dir, []);
    folders.get(dir).push(f);
  }
  const row = (f) => h("tr", { class: f.path === a.mainfile ? "mainfile" : null },
    h("td", { class: "mono wrap" }, f.path.split("/").pop(),
      f.path === a.mainfile ? h("span", { class: "badge ok" }, " main file") : null),
    h("td", { class: "num" }, bytes(f.size)),
    h("td", {}, f.reader || "–"),
    h("td", {}, h("button", { type: "button", class: "small", "aria-label": `Download ${f.path}`,
      on: { click: () => saveRaw(a.upload_id, f.path) } }, "Download")));
  const tables = [...folders.entries()].sort().map(([dir, fs]) => {
    const t = h("table", { class: "data" }, h("tbody", {}, fs.map(row)));
    return dir ? h("details", { open: fs.some((f) => f.path === a.mainfile) },
      h("summary", { class: "mono" }, `${dir}/`), t) : t;
  });
  clear(box, tables, status.files > list.length
    ? h("p", { class: "hint" }, `Showing the first ${list.length} of ${status.files} files.`)
    : null);
}

// -- the embargoed or hidden case ---------------------------------------------------------

async function limited() {
  let summary;
  try {
    summary = await api.get(`/entries/${encodeURIComponent(entryId)}`);
  } catch (err) {
    clear($("#entry-error"), alertBox(err.status === 404
      ? `No entry ${entryId}, or you may not see it. Log in if it is yours or shared with you.`
      : `Could not load the entry: ${err.message}`));
    $("#entry-title").textContent = "Entry not found";
    return;
  }
  clear($("#entry-title"), formulaNodes(summary.formula_reduced || entryId));
  $("#entry-id").textContent = entryId;
  clear($("#entry-error"), alertBox("This entry is under embargo: only its formula, elements " +
    "and space group are public until the embargo ends.", "warn"),
  kv(Object.entries(summary).map(([k, v]) => [label(k), fmt(k, v)])));
}

// -- start --------------------------------------------------------------------------------

async function start() {
  try {
    archive = await api.get(`/entries/${encodeURIComponent(entryId)}/archive`);
  } catch (err) {
    if (err.status === 404) await limited();
    else clear($("#entry-error"), alertBox(`Could not load the entry: ${err.message}`));
    markInteractive();
    return;
  }
  $("#entry-body").hidden = false;
  head(archive);
  material(archive);
  symmetry(archive);
  properties(archive);
  method(archive);
  provenance(archive);
  structure(archive);
  experiment(archive);
  clear($("#tree"), jsonTree(archive));
  $("#download-json").addEventListener("click", () => {
    const blob = new Blob([JSON.stringify(archive, null, 2)], { type: "application/json" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `${entryId}.json` });
    a.click();
  });
  window.addEventListener("bmx:units", () => properties(archive));
  markInteractive();
  files(archive);
}

start();
