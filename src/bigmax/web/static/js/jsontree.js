// A lazy tree browser for JSON: a branch builds its children only when it is opened, and long
// arrays show their first items with a button for more, so a 10^4-atom entry stays quick.

import { h } from "./lib.js";

const CHUNK = 50;

function leaf(value) {
  if (value === null) return h("span", { class: "b" }, "null");
  if (typeof value === "string") return h("span", { class: "s" }, JSON.stringify(value));
  if (typeof value === "number") return h("span", { class: "n" }, String(value));
  if (typeof value === "boolean") return h("span", { class: "b" }, String(value));
  if (Array.isArray(value)) return h("span", { class: "more" }, "[]");
  if (typeof value === "object") return h("span", { class: "more" }, "{}");
  return h("span", {}, String(value));
}

function isBranch(v) {
  return v !== null && typeof v === "object" && Object.keys(v).length > 0;
}

function preview(v) {
  if (Array.isArray(v)) {
    const flat = v.every((x) => x === null || typeof x !== "object");
    const text = flat ? v.slice(0, 6).map((x) => JSON.stringify(x)).join(", ") : "";
    return `[${v.length}]${text ? ` ${text}${v.length > 6 ? ", …" : ""}` : ""}`;
  }
  return `{${Object.keys(v).length}}`;
}

function node(key, value, open = false) {
  const name = h("span", { class: "k" }, key);
  if (!isBranch(value)) {
    return h("div", { class: "leaf" }, name, ": ", leaf(value));
  }
  const box = h("details", open ? { open: true } : {},
    h("summary", {}, name, " ", h("span", { class: "more" }, preview(value))));
  let filled = false;
  const fill = () => {
    if (filled) return;
    filled = true;
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v])
      : Object.entries(value);
    let shown = 0;
    const more = h("button", { type: "button", class: "link small" });
    const step = () => {
      const next = entries.slice(shown, shown + CHUNK);
      more.before(...next.map(([k, v]) => node(k, v)));
      shown += next.length;
      more.hidden = shown >= entries.length;
      more.textContent = `show ${Math.min(CHUNK, entries.length - shown)} more of ${
        entries.length - shown}`;
    };
    more.addEventListener("click", step);
    box.append(more);
    step();
  };
  box.addEventListener("toggle", () => box.open && fill());
  if (open) fill();
  return box;
}

/** A tree of ``data`` with its first level open. */
export function jsonTree(data) {
  return h("div", { class: "tree" },
    Object.entries(data).map(([k, v]) => node(k, v, k === "results")));
}
