// One dataset: citation and persistent id, its entries (paged), downloads, and for its owner
// removing entries and freezing.

import {
  $, h, clear, api, auth, alertBox, toast, fmt, markInteractive, setTitle, download,
  formulaNodes,
} from "./lib.js";

const datasetId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const PAGE = 50;
let ds = null;
let page = 0;

const path = (s = "") => `/datasets/${encodeURIComponent(datasetId)}${s}`;

async function members() {
  const ids = ds.entry_ids || [];
  const slice = ids.slice(page * PAGE, (page + 1) * PAGE);
  const mine = !ds.frozen && auth.user()?.username === ds.owner;
  let rows = [];
  if (slice.length) {
    const res = await api.query({
      query: { "entry_id:any": slice }, pagination: { page_size: PAGE },
      required: ["entry_id", "formula_reduced", "space_group_number", "program_name",
        "band_gap"],
    });
    rows = res.data;
  }
  clear($("#members"),
    h("thead", {}, h("tr", {}, mine ? h("th", { scope: "col" }, "") : null,
      ["Formula", "Space group", "Program", "Entry"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", { "data-entry": r.entry_id },
      mine ? h("td", {}, h("input", { type: "checkbox", value: r.entry_id,
        "aria-label": `Select ${r.formula_reduced}` })) : null,
      h("td", {}, h("a", { href: `/entry/${encodeURIComponent(r.entry_id)}` },
        formulaNodes(r.formula_reduced || r.entry_id))),
      h("td", { class: "num" }, r.space_group_number ?? "–"),
      h("td", {}, r.program_name || "–"),
      h("td", { class: "mono" }, r.entry_id)))
      : h("tr", {}, h("td", { class: "empty", colspan: 5 }, "No entries yet."))));
  const pages = Math.ceil(ids.length / PAGE);
  clear($("#member-pager"), pages > 1 ? [
    h("button", { type: "button", class: "small", disabled: page === 0,
      on: { click: () => { page -= 1; members(); } } }, "← Previous"),
    h("span", {}, `page ${page + 1} of ${pages}`),
    h("button", { type: "button", class: "small", disabled: page >= pages - 1,
      on: { click: () => { page += 1; members(); } } }, "Next →"),
  ] : null);
}

function about() {
  clear($("#about"), h("table", { class: "data kv" }, h("tbody", {},
    [["Description", ds.description], ["Owner", ds.owner], ["Entries", ds.n_entries],
      ["Created", fmt("created_at", ds.created_at)],
      ["Frozen", ds.frozen_at ? fmt("created_at", ds.frozen_at) : "no (open)"],
      ["Persistent id", ds.pid ? h("span", { class: "mono" }, ds.pid) : null],
      ["Citation", ds.citation]]
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "wrap" },
        v))))),
  ds.citation ? h("button", { type: "button", class: "small", on: {
    click: async () => {
      await navigator.clipboard?.writeText(ds.citation);
      toast("Citation copied", "ok");
    },
  } }, "Copy citation") : null);
}

function manage() {
  const mine = !ds.frozen && auth.user()?.username === ds.owner;
  $("#dataset-actions").hidden = !mine;
  if (!mine) return;
  clear($("#dataset-manage"),
    h("p", { class: "hint" }, "Add entries from the ", h("a", { href: "/" }, "search page"),
      ": tick them in the results and choose this dataset."),
    h("div", { class: "row" },
      h("button", { type: "button", on: {
        click: async () => {
          const ids = [...document.querySelectorAll("#members input:checked")].map((i) => i.value);
          if (!ids.length) return toast("Tick the entries to remove first", "error");
          try {
            ds = await api.del(path("/entries"), { entry_ids: ids });
            toast(`Removed ${ids.length}`, "ok");
            render();
          } catch (err) {
            toast(err.message, "error");
          }
          return null;
        },
      } }, "Remove ticked entries"),
      h("button", { type: "button", class: "primary", id: "freeze", on: {
        click: async () => {
          if (!confirm("Freeze this dataset? It becomes public and can no longer change.")) {
            return;
          }
          try {
            ds = await api.post(path("/action/freeze"));
            toast("Frozen", "ok");
            render();
          } catch (err) {
            toast(err.message, "error");
          }
        },
      } }, "Freeze and cite")));
}

function render() {
  setTitle(ds.name);
  $("#dataset-title").textContent = ds.name;
  clear($("#dataset-badges"), h("span", { class: `badge ${ds.frozen ? "public" : "private"}` },
    ds.frozen ? "frozen" : "open"));
  clear($("#member-tools"), `${ds.n_entries} `, ds.n_entries ? h("button", {
    type: "button", class: "small", on: {
      click: () => download("/api/v1/entries/export?format=csv", {
        method: "POST", body: { query: { "entry_id:any": ds.entry_ids } },
        name: `${ds.name}.csv` }).catch((err) => toast(err.message, "error")),
    } }, "Download CSV") : null);
  about();
  manage();
  return members();
}

async function start() {
  try {
    ds = await api.get(path());
  } catch (err) {
    clear($("#dataset-error"), alertBox(err.status === 404
      ? "No such dataset, or you may not see it." : err.message));
    markInteractive();
    return;
  }
  $("#dataset-body").hidden = false;
  await render();
  markInteractive();
}

start();
