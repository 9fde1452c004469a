// Shared helpers for every page: DOM building, the API client with the viewer's token, units,
// the search state <-> URL mapping, the header's user menu and the performance marks.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Build an element. Text is always set as text (never parsed as HTML). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** "Ga2O3" with subscripts. */
export function formulaNodes(text) {
  return String(text).split(/(\d+(?:\.\d+)?)/).map((part, i) =>
    (i % 2 ? h("sub", {}, part) : part));
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// -- the server's field table (rendered into the page by bigmax.web.routes) -----------------

export const FIELDS = JSON.parse(document.getElementById("bmx-fields")?.textContent || "[]");
export const FIELD = Object.fromEntries(FIELDS.map((f) => [f.name, f]));

const LABELS = {
  entry_id: "Entry", upload_id: "Upload", mainfile: "Main file", parser: "Reader",
  state: "State", created_at: "Created", processed_at: "Processed", elements: "Elements",
  n_elements: "Elements (n)", n_sites: "Sites", formula_reduced: "Formula",
  formula_hill: "Hill formula", formula_anonymous: "Anonymous formula",
  space_group_number: "Space group", space_group_symbol: "SG symbol",
  crystal_system: "Crystal system", bravais_lattice: "Bravais lattice",
  point_group: "Point group", dimensionality: "Dimensionality", program_name: "Program",
  method_type: "Method", xc_functional: "XC functional", total_energy: "Total energy",
  energy_per_atom: "Energy / atom", formation_energy_per_atom: "Formation energy / atom",
  band_gap: "Band gap", band_gap_type: "Gap type", max_force: "Max force",
  magnetic_moment: "Magnetic moment",
};
export const label = (name) => LABELS[name] || FIELD[name]?.description || name;

// -- units ---------------------------------------------------------------------------------

const NA = 6.02214076e23;
/** Display units per SI unit: factor = SI value of one display unit. */
export const UNITS = {
  J: { eV: 1.602176634e-19, meV: 1.602176634e-22, "kJ/mol": 1000 / NA, Ry: 2.1798723611035e-18,
    Ha: 4.3597447222071e-18, J: 1 },
  N: { "eV/Å": 1.602176634e-9, "Ha/bohr": 8.238723498e-8, N: 1 },
  "A*m**2": { "μB": 9.2740100783e-24, "A·m²": 1 },
  m: { "Å": 1e-10, nm: 1e-9, bohr: 5.29177210903e-11, m: 1 },
};
/** The unit used in URLs and on sliders, whatever the viewer's display choice. */
export const CANONICAL = { J: "eV", N: "eV/Å", "A*m**2": "μB", m: "Å" };
const UNIT_KEY = "bigmax.units";

export function unitPrefs() {
  try {
    return { ...CANONICAL, ...JSON.parse(localStorage.getItem(UNIT_KEY) || "{}") };
  } catch {
    return { ...CANONICAL };
  }
}

export function setUnitPref(si, unit) {
  const prefs = unitPrefs();
  prefs[si] = unit;
  localStorage.setItem(UNIT_KEY, JSON.stringify(prefs));
  window.dispatchEvent(new CustomEvent("bmx:units"));
}

/** The display unit of an SI unit ('' when it has none we convert). */
export const displayUnit = (si) => (si && UNITS[si] ? unitPrefs()[si] : "");
export const toDisplay = (si, v) => (si && UNITS[si] ? v / UNITS[si][displayUnit(si)] : v);
export const toCanonical = (si, v) => (si && UNITS[si] ? v / UNITS[si][CANONICAL[si]] : v);
export const fromCanonical = (si, v) => (si && UNITS[si] ? v * UNITS[si][CANONICAL[si]] : v);

export function num(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e6)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** A byte count for people: 1.23 MiB. */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toPrecision(3)} ${units[i]}`;
}
/** A field's value for display, in the viewer's units, with the unit appended. */
export function fmt(name, v, withUnit = true) {
  if (v === null || v === undefined) return "–";
  const f = FIELD[name];
  if (!f) return Array.isArray(v) ? v.join(", ") : String(v);
  if (f.kind === "elements") return v.join(" ");
  if (f.kind === "datetime") return String(v).replace("T", " ").slice(0, 19);
  if (f.kind === "float") {
    const u = displayUnit(f.unit);
    return num(toDisplay(f.unit, v)) + (withUnit && u ? ` ${u}` : "");
  }
  return String(v);
}

/** A select that switches the display unit of one SI unit everywhere. */
export function unitSelect(si, id) {
  const sel = h("select", { id, "aria-label": `Unit for ${si}` },
    Object.keys(UNITS[si]).map((u) => h("option", { value: u, text: u })));
  sel.value = displayUnit(si);
  sel.addEventListener("change", () => setUnitPref(si, sel.value));
  return sel;
}

// -- auth ----------------------------------------------------------------------------------

const TOKEN_KEY = "bigmax.token";
const USER_KEY = "bigmax.user";

export const auth = {
  token: () => localStorage.getItem(TOKEN_KEY),
  user: () => {
    try {
      return JSON.parse(localStorage.getItem(USER_KEY) || "null");
    } catch {
      return null;
    }
  },
  async login(username, password) {
    const tok = await api.post("/auth/token", { username, password, name: "web GUI", days: 30 },
      { anonymous: true });
    localStorage.setItem(TOKEN_KEY, tok.token);
    const me = await api.get("/auth/me");
    localStorage.setItem(USER_KEY, JSON.stringify({ ...me, token_id: tok.token_id }));
    return me;
  },
  async logout() {
    const user = auth.user();
    if (user?.token_id) {
      try {
        await api.del(`/auth/tokens/${encodeURIComponent(user.token_id)}`);
      } catch {
        // revoked or expired already: forgetting it is all that is left to do
      }
    }
    auth.forget();
  },
  forget() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
    localStorage.removeItem("bigmax.bounds"); // the search page's slider ends
  },
};

// -- API -----------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The message of an error body: {"detail": "..."} or FastAPI's list of validation errors. */
export function errorText(body, status) {
  const d = body && body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) {
    return d.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
  }
  return `the server answered ${status}`;
}

export function authHeaders(extra = {}) {
  const t = auth.token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

async function request(method, path, body, opts = {}) {
  const headers = opts.anonymous ? {} : authHeaders();
  const init = { method, headers, signal: opts.signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`/api/v1${path}`, init);
  if (res.status === 401 && auth.token() && !opts.anonymous) {
    auth.forget(); // expired or revoked: continue as anonymous
    renderUserMenu();
    return request(method, path, body, { ...opts, anonymous: true });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(errorText(data, res.status), res.status);
  return data;
}

export const api = {
  get: (path, opts) => request("GET", path, undefined, opts),
  post: (path, body, opts) => request("POST", path, body ?? {}, opts),
  del: (path, body, opts) => request("DELETE", path, body, opts),
  query: (body, opts) => request("POST", "/entries/query", body, opts),
};

/** Fetch a file (with the token) and save it under ``name``; streams to disk where the
 * browser can (File System Access API), otherwise through a Blob. */
export async function download(url, { method = "GET", body, name, stream = false } = {}) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (stream && window.showSaveFilePicker) {
    let handle;
    try {
      handle = await window.showSaveFilePicker({ suggestedName: name });
    } catch {
      return false; // the viewer cancelled
    }
    const res = await fetch(url, init);
    if (!res.ok) throw new ApiError(errorText(await res.json().catch(() => null), res.status));
    await res.body.pipeTo(await handle.createWritable());
    return true;
  }
  const res = await fetch(url, init);
  if (!res.ok) throw new ApiError(errorText(await res.json().catch(() => null), res.status));
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = h("a", { href, download: name, style: { display: "none" } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  return true;
}

// -- messages ------------------------------------------------------------------------------

export function toast(message, kind = "info") {
  const box = $("#toasts");
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    message);
  box.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 9000 : 4000);
}

export function alertBox(message, kind = "error") {
  return h("div", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" },
    message);
}

// -- search state in the URL ---------------------------------------------------------------

export const TERM_FACETS = {
  n_elements: "ne", crystal_system: "cs", space_group_number: "sg", program_name: "prog",
  method_type: "meth", xc_functional: "xc",
};
export const RANGE_FIELDS = FIELDS.filter((f) => f.kind === "float" || f.name === "n_sites")
  .map((f) => f.name);
export const ELEMENT_OPS = { all: "AND", any: "OR", only: "ONLY" };

export function stateFromURL(search = location.search) {
  const p = new URLSearchParams(search);
  const list = (k) => (p.get(k) ? p.get(k).split(",").filter(Boolean) : []);
  const s = {
    elements: list("el"),
    elop: ELEMENT_OPS[p.get("elop")] ? p.get("elop") : "all",
    terms: {},
    ranges: {},
    formula: p.get("formula") || "",
    upload_id: p.get("upload") || "",
    sort: p.get("sort") || "",
    order: p.get("order") === "desc" ? "desc" : "asc",
    cols: list("cols"),
  };
  for (const [field, key] of Object.entries(TERM_FACETS)) {
    const vals = list(key);
    if (vals.length) {
      s.terms[field] = FIELD[field]?.kind === "int" ? vals.map(Number) : vals;
    }
  }
  for (const field of RANGE_FIELDS) {
    const raw = p.get(field);
    if (!raw) continue;
    const [lo, hi] = raw.split(":").map((x) => (x === "" ? null : Number(x)));
    if ([lo, hi].some((x) => x !== null && !Number.isFinite(x))) continue;
    s.ranges[field] = [lo ?? null, hi ?? null];
  }
  return s;
}

/** URL parameters of a state; ranges are written in the canonical unit (eV, eV/Å, μB). */
export function stateParams(s, { withView = true } = {}) {
  const p = new URLSearchParams();
  if (s.elements.length) {
    p.set("el", s.elements.join(","));
    if (s.elop !== "all") p.set("elop", s.elop);
  }
  for (const [field, key] of Object.entries(TERM_FACETS)) {
    if (s.terms[field]?.length) p.set(key, s.terms[field].join(","));
  }
  for (const [field, [lo, hi]] of Object.entries(s.ranges)) {
    p.set(field, `${lo ?? ""}:${hi ?? ""}`);
  }
  if (s.formula) p.set("formula", s.formula);
  if (s.upload_id) p.set("upload", s.upload_id);
  if (withView) {
    if (s.sort) p.set("sort", s.sort);
    if (s.sort && s.order === "desc") p.set("order", "desc");
    if (s.cols.length) p.set("cols", s.cols.join(","));
  }
  return p;
}

/** "Ga2O3", "O3Ga2", "GaO1.5"... -> the archive's reduced formula (alphabetical, gcd 1). */
export function normalizeFormula(text) {
  const t = text.replace(/\s+/g, "");
  if (!t) return "";
  const counts = {};
  const re = /([A-Z][a-z]?)(\d*)/gy;
  let m;
  let pos = 0;
  while (pos < t.length && (m = re.exec(t))) {
    counts[m[1]] = (counts[m[1]] || 0) + (m[2] ? Number(m[2]) : 1);
    pos = re.lastIndex;
  }
  if (pos !== t.length || !Object.keys(counts).length) return null;
  const gcd = (a, b) => (b ? gcd(b, a % b) : a);
  const g = Object.values(counts).reduce(gcd);
  return Object.keys(counts).sort()
    .map((e) => e + (counts[e] / g === 1 ? "" : counts[e] / g)).join("");
}

/** The JSON query of a state; ``omit`` leaves one facet out (for its own counts). */
export function buildQuery(s, omit = null) {
  const q = {};
  if (s.elements.length && omit !== "elements") q[`elements:${s.elop}`] = s.elements;
  for (const [field, vals] of Object.entries(s.terms)) {
    if (vals.length && omit !== field) q[`${field}:any`] = vals;
  }
  for (const [field, [lo, hi]] of Object.entries(s.ranges)) {
    if (omit === field) continue;
    const unit = FIELD[field]?.unit;
    const r = {};
    if (lo !== null) r.gte = fromCanonical(unit, lo);
    if (hi !== null) r.lte = fromCanonical(unit, hi);
    if (Object.keys(r).length) q[field] = r;
  }
  if (s.formula) q.formula_reduced = normalizeFormula(s.formula) || s.formula;
  if (s.upload_id) q.upload_id = s.upload_id;
  return Object.keys(q).length ? q : null;
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// -- page chrome ---------------------------------------------------------------------------

export function renderUserMenu() {
  const box = $("#user-menu");
  if (!box) return;
  const user = auth.user();
  if (!user) {
    clear(box, h("a", { href: `/login?next=${encodeURIComponent(location.pathname +
      location.search)}`, class: "button small" }, "Log in"));
    return;
  }
  clear(box,
    h("a", { href: "/account", class: "user-name", title: "Account and API tokens" },
      user.username),
    h("button", {
      type: "button", class: "small ghost", id: "logout",
      on: {
        click: async () => {
          await auth.logout();
          location.reload();
        },
      },
    }, "Log out"));
}

/** Marks the page usable: the benchmark and the tests wait for this. */
export function markInteractive() {
  if (document.body.dataset.ready) return;
  performance.mark("bmx:interactive");
  document.body.dataset.ready = "1";
}

export function setTitle(text) {
  document.title = `${text} · BigMax`;
}

renderUserMenu();
const here = document.body.dataset.page;
for (const a of $$("[data-nav]")) {
  if (a.dataset.nav === here || (a.dataset.nav === "uploads" && here === "upload") ||
    (a.dataset.nav === "datasets" && here === "dataset")) a.setAttribute("aria-current", "page");
}
