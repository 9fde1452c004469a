// The datasets list and the form for a new one.

import { $, h, clear, api, auth, alertBox, fmt, markInteractive } from "./lib.js";

async function list() {
  const table = $("#datasets-table");
  const data = await api.get("/datasets");
  if (!data.length) {
    clear(table, h("tbody", {}, h("tr", {}, h("td", { class: "empty" }, "No datasets yet."))));
    return;
  }
  clear(table,
    h("thead", {}, h("tr", {}, ["Name", "Owner", "Entries", "State", "Created"].map((t) =>
      h("th", { scope: "col" }, t)))),
    h("tbody", {}, data.map((d) => h("tr", { "data-dataset": d.dataset_id },
      h("td", {}, h("a", { href: `/datasets/${encodeURIComponent(d.dataset_id)}` }, d.name)),
      h("td", {}, d.owner || "–"),
      h("td", { class: "num" }, d.n_entries),
      h("td", {}, h("span", { class: `badge ${d.frozen ? "public" : "private"}` },
        d.frozen ? "frozen" : "open")),
      h("td", {}, fmt("created_at", d.created_at).slice(0, 10))))));
}

async function start() {
  const form = $("#dataset-form");
  if (!auth.user()) {
    clear($("#create-card"), h("h2", {}, "New dataset"), alertBox(h("span", {},
      "Log in to make datasets. ", h("a", { href: "/login?next=/datasets" }, "Log in")), "info"));
  } else {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const d = await api.post("/datasets", {
          name: $("#dataset-name").value,
          description: $("#dataset-description").value || null,
        });
        location.href = `/datasets/${encodeURIComponent(d.dataset_id)}`;
      } catch (err) {
        clear($("#dataset-error"), alertBox(err.message));
      }
    });
  }
  try {
    await list();
  } catch (err) {
    clear($("#datasets-table"), h("tbody", {}, h("tr", {}, h("td", {}, err.message))));
  }
  markInteractive();
}

start();
