// One upload: processing progress, each file's state and errors, and the owner's actions (add
// files, publish with an embargo, lift it, share, reprocess, delete).

import {
  $, h, clear, api, auth, alertBox, toast, markInteractive, fmt, bytes, setTitle,
} from "./lib.js";
import { DropZone, sendFiles, progressBar, stateBadge } from "./dropzone.js";

const uploadId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const PAGE_SIZE = 200;
const RUNNING = new Set(["pending", "processing"]);
const EMBARGOES = [0, 3, 6, 12, 24, 36];
let page = 1;
let status = null;
let poll = null;
let actionsShown = "";

const path = (suffix = "") => `/uploads/${encodeURIComponent(uploadId)}${suffix}`;

/** A file's state from its counts: ok, failed, skipped (no reader) or pending. */
export function fileState(f, running) {
  if (f.failed > 0) return "failed";
  if (f.entries > 0) return "ok";
  if (running) return "pending";
  return f.reader ? "failed" : "skipped";
}

const STATE_TEXT = {
  ok: "processed", failed: "failed", skipped: "not recognised (kept as raw file)",
  pending: "waiting",
};

function renderHead(s) {
  setTitle(s.name);
  $("#upload-title").textContent = s.name;
  $("#upload-id").textContent = s.upload_id;
  clear($("#upload-badges"),
    h("span", { class: `badge ${s.visibility}`, id: "visibility" }, s.visibility),
    " ", stateBadge(s.processing),
    s.embargo_until ? h("span", { class: "hint" }, ` embargo until ${
      fmt("created_at", s.embargo_until).slice(0, 10)}`) : null);
  clear($("#upload-links"),
    s.entries ? h("a", { class: "button small", href: `/?upload=${encodeURIComponent(
      s.upload_id)}` }, `Search its ${s.entries} entries`) : null);
}

function renderProcessing(s) {
  const p = s.processing;
  const bar = progressBar();
  if (RUNNING.has(p.status)) {
    bar.set(p.done, Math.max(1, p.total), p.total ? `${p.done} of ${p.total} files processed`
      : "waiting to start");
  }
  clear($("#processing"),
    h("p", { id: "processing-state" }, stateBadge(p), " ",
      `${s.files} files, ${s.entries} entries, `,
      h("span", { class: s.failed ? "error-text" : null }, `${s.failed} failed`),
      p.finished_at ? h("span", { class: "hint" }, ` · finished ${fmt("created_at",
        p.finished_at)}`) : null),
    bar.el,
    p.error ? alertBox(p.error) : null,
    s.owner ? h("p", { class: "hint" }, `Owner: ${s.owner}${s.members.length
      ? `; shared with ${s.members.join(", ")}` : ""}`) : null);
}

function renderFiles(s) {
  const running = RUNNING.has(s.processing.status);
  $("#file-counts").textContent = `${s.files} file${s.files === 1 ? "" : "s"}`;
  if (!s.file_list.length) {
    clear($("#file-table"), h("tbody", {}, h("tr", {}, h("td", { class: "empty" },
      running ? "Receiving files…" : "No files."))));
  } else {
    clear($("#file-table"),
      h("thead", {}, h("tr", {}, ["File", "Size", "Reader", "Entries", "State"].map((t) =>
        h("th", { scope: "col" }, t)))),
      h("tbody", {}, s.file_list.map((f) => {
        const st = fileState(f, running);
        return h("tr", { "data-path": f.path, "data-state": st },
          h("td", { class: "mono wrap" }, f.path),
          h("td", { class: "num" }, bytes(f.size)),
          h("td", {}, f.reader || "–"),
          h("td", { class: "num" }, f.entries),
          h("td", { class: "wrap" }, h("span", { class: `badge ${st}` }, STATE_TEXT[st]),
            f.errors.length ? h("ul", { class: "file-errors" }, f.errors.map((e) =>
              h("li", {}, e))) : null,
            f.failed > f.errors.length ? h("p", { class: "hint" }, `${f.failed} failed ` +
              `entries in all`) : null));
      })));
  }
  const pages = Math.ceil(s.files / PAGE_SIZE);
  clear($("#file-pager"), pages > 1 ? [
    h("button", { type: "button", class: "small", disabled: page <= 1,
      on: { click: () => load(page - 1) } }, "← Previous"),
    h("span", {}, `page ${page} of ${pages}`),
    h("button", { type: "button", class: "small", disabled: page >= pages,
      on: { click: () => load(page + 1) } }, "Next →"),
  ] : null);
}

async function act(label, fn) {
  try {
    await fn();
    toast(label, "ok");
    await load(page);
  } catch (err) {
    toast(`${err.message}`, "error");
  }
}

function renderActions(s) {
  const me = auth.user();
  const mine = me && (me.username === s.owner || me.is_admin);
  const key = JSON.stringify([mine, s.published, s.visibility, RUNNING.has(s.processing.status)]);
  if (key === actionsShown) return;
  actionsShown = key;
  const box = $("#actions");
  if (!mine) {
    clear(box, h("section", { class: "card" }, h("p", { class: "hint" },
      me ? "You may read this upload; only its owner can change it."
        : "Log in as the owner to change this upload.")));
    return;
  }
  const cards = [];
  const busy = RUNNING.has(s.processing.status);
  if (!s.published) {
    const drop = h("div");
    const progress = progressBar();
    const send = h("button", { type: "button", class: "primary", disabled: true }, "Add files");
    const dz = new DropZone(drop, { onChange: (files) => { send.disabled = !files.length; } });
    send.addEventListener("click", async () => {
      send.disabled = true;
      try {
        await sendFiles(`/api/v1${path("/files")}`, dz.files, (d, t) => progress.set(d, t));
        progress.hide();
        dz.reset();
        toast("Files added; processing them", "ok");
        actionsShown = "";
        await load(page);
      } catch (err) {
        progress.hide();
        toast(`Adding files failed: ${err.message}`, "error");
        send.disabled = false;
      }
    });
    cards.push(h("section", { class: "card", "aria-labelledby": "h-add" },
      h("h2", { id: "h-add" }, "Add files"), drop, progress.el, h("div", { class: "row" }, send)));

    const months = h("select", { id: "embargo" }, EMBARGOES.map((m) => h("option", { value: m },
      m ? `${m} months embargo` : "no embargo (public now)")));
    cards.push(h("section", { class: "card", "aria-labelledby": "h-publish" },
      h("h2", { id: "h-publish" }, "Publish"),
      h("p", { class: "hint" }, "Publishing makes the upload immutable. Under an embargo, " +
        "only formula, elements and space group are public until it ends."),
      h("div", { class: "row" }, h("label", {}, "Embargo ", months),
        h("button", { type: "button", class: "primary", id: "publish", disabled: busy,
          on: {
            click: () => {
              const m = Number(months.value);
              if (!confirm(`Publish "${s.name}"${m ? ` with a ${m}-month embargo` : ""}? ` +
                "It cannot be changed afterwards.")) return;
              act("Published", () => api.post(path("/action/publish"), { embargo_months: m }));
            },
          } }, "Publish"))));
  } else if (s.visibility === "embargoed") {
    cards.push(h("section", { class: "card" }, h("h2", {}, "Embargo"),
      h("p", {}, `Under embargo until ${fmt("created_at", s.embargo_until).slice(0, 10)}.`),
      h("button", { type: "button", id: "lift", on: {
        click: () => act("Embargo lifted", () => api.post(path("/action/lift-embargo"))),
      } }, "Lift the embargo now")));
  }
  const who = h("input", { type: "text", id: "share-with", placeholder: "username",
    autocomplete: "off", "aria-label": "Username to share with" });
  cards.push(h("section", { class: "card", "aria-labelledby": "h-share" },
    h("h2", { id: "h-share" }, "Share"),
    h("p", { class: "hint" }, "Give another user read access, also before publishing."),
    h("div", { class: "row" }, who, h("button", { type: "button", on: {
      click: () => who.value.trim() && act(`Shared with ${who.value.trim()}`,
        () => api.post(path("/action/share"), { username: who.value.trim() })),
    } }, "Share"))));
  if (!s.published) {
    cards.push(h("section", { class: "card" }, h("h2", {}, "Maintenance"),
      h("div", { class: "row" },
        h("button", { type: "button", disabled: busy, on: {
          click: () => act("Reprocessing", () => api.post(path("/action/process"))),
        } }, "Process again"),
        h("button", { type: "button", class: "danger", id: "delete-upload", disabled: busy, on: {
          click: async () => {
            if (!confirm(`Delete "${s.name}" with all its files and entries?`)) return;
            try {
              await api.del(path());
              location.href = "/uploads";
            } catch (err) {
              toast(err.message, "error");
            }
          },
        } }, "Delete"))));
  }
  clear(box, cards);
}

async function load(p = 1) {
  page = p;
  try {
    status = await api.get(`${path()}?page=${page}&page_size=${PAGE_SIZE}`);
  } catch (err) {
    clear($("#upload-error"), alertBox(err.status === 404
      ? `No upload ${uploadId}, or you may not see it.${auth.user() ? "" : " Log in if it is yours."}`
      : `Could not load the upload: ${err.message}`));
    $("#upload-body").hidden = true;
    $("#upload-title").textContent = "Upload not found";
    return;
  }
  $("#upload-body").hidden = false;
  renderHead(status);
  renderProcessing(status);
  renderFiles(status);
  renderActions(status);
  clearTimeout(poll);
  if (RUNNING.has(status.processing.status)) poll = setTimeout(() => load(page), 700);
}

load().then(markInteractive);
