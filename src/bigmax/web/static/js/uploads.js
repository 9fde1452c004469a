// The uploads page: drag and drop a new upload with a progress bar, and the viewer's uploads.

import { $, h, clear, api, auth, alertBox, markInteractive, fmt } from "./lib.js";
import { DropZone, sendFiles, progressBar, stateBadge } from "./dropzone.js";

async function list() {
  const table = $("#uploads-table");
  let res;
  try {
    res = await api.get("/uploads");
  } catch (err) {
    clear(table, h("tbody", {}, h("tr", {}, h("td", { class: "empty" }, err.message))));
    return;
  }
  if (!res.data.length) {
    clear(table, h("tbody", {}, h("tr", {}, h("td", { class: "empty" }, "No uploads yet."))));
    return;
  }
  clear(table,
    h("thead", {}, h("tr", {}, ["Name", "Visibility", "Processing", "Files", "Entries",
      "Failed", "Created"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, res.data.map((u) => h("tr", { "data-upload": u.upload_id },
      h("td", {}, h("a", { href: `/uploads/${encodeURIComponent(u.upload_id)}` }, u.name)),
      h("td", {}, h("span", { class: `badge ${u.visibility}` }, u.visibility)),
      h("td", {}, stateBadge(u.processing)),
      h("td", { class: "num" }, u.files),
      h("td", { class: "num" }, u.entries),
      h("td", { class: "num" }, u.failed ? h("span", { class: "error-text" }, u.failed) : 0),
      h("td", {}, fmt("created_at", u.created_at))))));
}

function defaultName() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return `upload-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())}${p(d.getSeconds())}`;
}

function start() {
  if (!auth.user()) {
    clear($("#uploads-login"), alertBox(h("span", {}, "Log in to upload data and see your " +
      "uploads. ", h("a", { href: "/login?next=/uploads" }, "Log in")), "info"));
    markInteractive();
    return;
  }
  $("#uploads-body").hidden = false;
  const name = $("#upload-name");
  name.value = defaultName();
  const button = $("#start-upload");
  const drop = new DropZone($("#drop"), {
    onChange: (files) => {
      button.disabled = !files.length;
    },
  });
  const progress = progressBar();
  $("#upload-progress").append(progress.el);
  $("#new-upload").addEventListener("submit", async (e) => {
    e.preventDefault();
    clear($("#upload-error"));
    button.disabled = true;
    progress.set(0, 1, "Starting…");
    try {
      const status = await sendFiles(`/api/v1/uploads?name=${encodeURIComponent(name.value)}`,
        drop.files, (done, total) => progress.set(done, total));
      progress.set(1, 1, "Uploaded; processing has started.");
      location.href = `/uploads/${encodeURIComponent(status.upload_id)}`;
    } catch (err) {
      progress.hide();
      clear($("#upload-error"), alertBox(`The upload failed: ${err.message}`));
      button.disabled = false;
    }
  });
  $("#refresh-uploads").addEventListener("click", list);
  list().then(markInteractive);
}

start();
