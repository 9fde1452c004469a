// Drag and drop of files and whole folders, file pickers, and a multipart sender with upload
// progress (XMLHttpRequest: fetch cannot report upload progress).

import { h, clear, authHeaders, errorText, bytes } from "./lib.js";

/** Every file under a dropped entry, with its path relative to the drop. */
async function walk(entry, prefix = "") {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    return [{ file, path: prefix + entry.name }];
  }
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    for (const child of batch) out.push(...(await walk(child, `${prefix}${entry.name}/`)));
  }
  return out;
}

async function fromDrop(dt) {
  const items = [...(dt.items || [])];
  const entries = items.map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dt.files].map((file) => ({ file, path: file.name }));
  const lists = await Promise.all(entries.map((e) => walk(e)));
  return lists.flat();
}

/** A drop zone with pickers and a list of chosen files; ``onChange(files)`` on each change. */
export class DropZone {
  constructor(root, { onChange = () => {} } = {}) {
    this.files = [];
    this.onChange = onChange;
    const filesInput = h("input", { type: "file", multiple: true, hidden: true, id: "pick-files",
      on: { change: (e) => this.add([...e.target.files].map((f) => ({ file: f, path: f.name }))) },
    });
    const dirInput = h("input", { type: "file", multiple: true, hidden: true, id: "pick-folder",
      webkitdirectory: true,
      on: {
        change: (e) => this.add([...e.target.files].map((f) => ({
          file: f, path: f.webkitRelativePath || f.name,
        }))),
      },
    });
    this.list = h("div", { class: "chosen" });
    this.zone = h("div", { class: "dropzone", id: "dropzone" },
      h("p", {}, h("strong", {}, "Drop files or folders here")),
      h("p", { class: "hint" }, "Zip and tar files are unpacked on the server. " +
        "Folders keep their layout."),
      h("div", { class: "pick" },
        h("button", { type: "button", on: { click: () => filesInput.click() } }, "Choose files"),
        h("button", { type: "button", on: { click: () => dirInput.click() } }, "Choose a folder")),
      filesInput, dirInput);
    for (const ev of ["dragenter", "dragover"]) {
      this.zone.addEventListener(ev, (e) => {
        e.preventDefault();
        this.zone.classList.add("over");
      });
    }
    this.zone.addEventListener("dragleave", () => this.zone.classList.remove("over"));
    this.zone.addEventListener("drop", async (e) => {
      e.preventDefault();
      this.zone.classList.remove("over");
      this.add(await fromDrop(e.dataTransfer));
    });
    root.append(this.zone, this.list);
  }

  add(items) {
    const seen = new Set(this.files.map((f) => f.path));
    for (const it of items) if (!seen.has(it.path)) this.files.push(it);
    this.render();
  }

  reset() {
    this.files = [];
    this.render();
  }

  render() {
    const total = this.files.reduce((s, f) => s + f.file.size, 0);
    clear(this.list, this.files.length ? [
      h("p", { class: "hint" }, `${this.files.length} file${this.files.length === 1 ? "" : "s"}, ${
        bytes(total)}`),
      h("ul", { class: "file-list" }, this.files.slice(0, 200).map((f) => h("li", {},
        h("span", { class: "mono" }, f.path), ` ${bytes(f.file.size)} `,
        h("button", { type: "button", class: "link small", "aria-label": `Remove ${f.path}`,
          on: {
            click: () => {
              this.files = this.files.filter((x) => x !== f);
              this.render();
            },
          } }, "remove")))),
      this.files.length > 200 ? h("p", { class: "hint" }, `and ${this.files.length - 200} more`)
        : null,
    ] : null);
    this.onChange(this.files);
  }
}

/** POST ``files`` as multipart to ``url``; resolves with the JSON answer, rejects with the
 * server's message. ``onProgress(sent, total)`` follows the bytes on the wire. */
export function sendFiles(url, files, onProgress) {
  const form = new FormData();
  for (const f of files) form.append("file", f.file, f.path);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: the status says enough
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new Error(errorText(body, xhr.status)));
    });
    xhr.addEventListener("error", () => reject(new Error("the connection to the server broke")));
    xhr.addEventListener("abort", () => reject(new Error("the upload was cancelled")));
    xhr.send(form);
  });
}

export function progressBar() {
  const fill = h("div");
  const text = h("span", { class: "hint" });
  const bar = h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0,
    "aria-valuemax": 100, "aria-valuenow": 0, "aria-label": "Upload progress" }, fill);
  const el = h("div", { class: "progress-box", hidden: true }, bar, text);
  return {
    el,
    set(done, total, label) {
      el.hidden = false;
      const pct = total ? Math.round((100 * done) / total) : 0;
      fill.style.width = `${pct}%`;
      bar.setAttribute("aria-valuenow", String(pct));
      text.textContent = label ?? `${bytes(done)} of ${bytes(total)} (${pct}%)`;
    },
    hide() {
      el.hidden = true;
    },
  };
}

/** An upload's processing state as a badge. */
export function stateBadge(p) {
  return h("span", { class: `badge ${p.status}` }, p.status === "processing"
    ? `processing ${p.done}/${p.total}` : p.status);
}
