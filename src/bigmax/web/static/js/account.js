// The account page: who you are, your API tokens (revoke), and new tokens (shown once).

import { $, h, clear, api, auth, alertBox, toast, fmt, markInteractive } from "./lib.js";

async function tokens() {
  const list = await api.get("/auth/tokens");
  const mine = auth.user()?.token_id;
  clear($("#tokens"),
    h("thead", {}, h("tr", {}, ["Label", "Created", "Expires", "State", ""].map((t) =>
      h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((t) => h("tr", { "data-token": t.token_id },
      h("td", {}, t.name || h("span", { class: "hint" }, "(no label)"),
        t.token_id === mine ? h("span", { class: "badge ok" }, " this browser") : null),
      h("td", {}, fmt("created_at", t.created_at).slice(0, 16)),
      h("td", {}, fmt("created_at", t.expires_at).slice(0, 10)),
      h("td", {}, h("span", { class: `badge ${t.active ? "ok" : "private"}` },
        t.active ? "active" : t.revoked_at ? "revoked" : "expired")),
      h("td", {}, t.active ? h("button", { type: "button", class: "small danger",
        "aria-label": `Revoke token ${t.name || t.token_id}`,
        on: {
          click: async () => {
            if (!confirm(`Revoke "${t.name || t.token_id}"? Scripts using it stop working.`)) {
              return;
            }
            try {
              await api.del(`/auth/tokens/${encodeURIComponent(t.token_id)}`);
              if (t.token_id === mine) {
                auth.forget();
                location.href = "/login";
                return;
              }
              toast("Token revoked", "ok");
              tokens();
            } catch (err) {
              toast(err.message, "error");
            }
          },
        } }, "Revoke") : null)))));
}

async function start() {
  if (!auth.user()) {
    clear($("#account-error"), alertBox(h("span", {}, "Log in to manage your tokens. ",
      h("a", { href: "/login?next=/account" }, "Log in")), "info"));
    markInteractive();
    return;
  }
  let me;
  try {
    me = await api.get("/auth/me");
  } catch (err) {
    clear($("#account-error"), alertBox(err.message));
    markInteractive();
    return;
  }
  if (!auth.user()) {
    location.href = "/login?next=/account";
    return;
  }
  $("#account-body").hidden = false;
  clear($("#me"), h("table", { class: "data kv" }, h("tbody", {},
    h("tr", {}, h("th", {}, "Username"), h("td", {}, me.username)),
    h("tr", {}, h("th", {}, "Administrator"), h("td", {}, me.is_admin ? "yes" : "no")),
    h("tr", {}, h("th", {}, "Since"), h("td", {}, fmt("created_at", me.created_at))))));
  $("#token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const tok = await api.post("/auth/token", {
        username: me.username, password: $("#token-password").value,
        name: $("#token-name").value, days: Number($("#token-days").value),
      }, { anonymous: true });
      $("#token-password").value = "";
      const secret = h("div", { class: "secret", id: "token-secret" }, tok.token);
      clear($("#new-token"), alertBox("Copy the token now: it is not shown again.", "warn"),
        secret, h("button", { type: "button", class: "small", on: {
          click: async () => {
            await navigator.clipboard?.writeText(tok.token);
            toast("Copied", "ok");
          },
        } }, "Copy"));
      tokens();
    } catch (err) {
      clear($("#new-token"), alertBox(err.status === 401 ? "Wrong password." : err.message));
    }
  });
  await tokens();
  markInteractive();
}

start();
