// The login form: trades a username and password for a bearer token kept in this browser.

import { $, auth, clear, alertBox, markInteractive, renderUserMenu } from "./lib.js";

function next() {
  const target = new URLSearchParams(location.search).get("next") || "/";
  return target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("#login-button");
  button.disabled = true;
  clear($("#login-error"));
  try {
    await auth.login($("#username").value.trim(), $("#password").value);
    renderUserMenu();
    location.href = next();
  } catch (err) {
    clear($("#login-error"), alertBox(err.status === 401
      ? "Wrong username or password." : err.message));
    button.disabled = false;
    $("#password").select();
  }
});

if (auth.user()) {
  $("#login-error").append(alertBox(`You are logged in as ${auth.user().username}.`, "info"));
}
markInteractive();
