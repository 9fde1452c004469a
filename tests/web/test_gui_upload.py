"""Uploads, login and logout, datasets and tokens in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bigmax.demo import nomad2018_frames

BROKEN = "3\nthis is not an extxyz header\nAl 0 0\n"


def test_upload_files_and_see_their_state_then_log_out(gui, live, tmp_path):
    page = gui.page
    gui.open("/uploads")
    expect(page.locator("#uploads-login")).to_contain_text("Log in")
    gui.login("alice", then="/uploads")
    good = tmp_path / "good.extxyz"
    good.write_text(nomad2018_frames(200, 2))
    broken = tmp_path / "broken.extxyz"
    broken.write_text(BROKEN)
    page.fill("#upload-name", "gui-journey")
    # one file dropped on the drop zone, one chosen with the picker
    drop = page.evaluate_handle(
        """(text) => { const dt = new DataTransfer();
        dt.items.add(new File([text], "good.extxyz")); return dt; }""",
        good.read_text(),
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": drop})
    expect(page.locator(".chosen")).to_contain_text("good.extxyz")
    page.set_input_files("#pick-files", [str(broken)])
    expect(page.locator(".chosen")).to_contain_text("2 files")
    gui.screenshot("uploads")
    page.click("#start-upload")
    page.wait_for_url(re.compile(r".*/uploads/[a-z0-9]+$"))
    upload_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("body[data-ready]")
    # processing ends with one good and one failed file, each with its state
    expect(page.locator('tr[data-path="good.extxyz"]')).to_have_attribute("data-state", "ok")
    bad = page.locator('tr[data-path="broken.extxyz"]')
    expect(bad).to_have_attribute("data-state", "failed")
    status = live.api("GET", f"/uploads/{upload_id}", "alice").json()
    error = next(f for f in status["file_list"] if f["path"] == "broken.extxyz")["errors"][0]
    assert "broken.extxyz" in error
    expect(bad.locator(".file-errors")).to_have_text(error)
    expect(page.locator("#visibility")).to_have_text("private")
    expect(page.locator("#processing-state")).to_contain_text("1 failed")
    gui.screenshot("upload")

    # logged in, alice's private entries are found; logged out, they are not
    private = live.count({"upload_id": upload_id}, "alice")
    assert private == 3  # two structures and the failed entry of the broken file
    assert live.count({"upload_id": upload_id}) == 0
    gui.open(f"/?upload={upload_id}")
    expect(page.locator("#total")).to_have_text("3 entries")
    gui.open("/")
    everything = live.count(None, "alice")
    expect(page.locator("#total")).to_have_text(f"{everything:,} entries")
    page.click("#logout")
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#user-menu")).to_contain_text("Log in")
    public = live.count(None)
    assert public <= everything - private - len(live.private_entries)
    expect(page.locator("#total")).to_have_text(f"{public:,} entries")
    gui.open(f"/?upload={upload_id}")
    expect(page.locator("#total")).to_have_text("0 entries")
    gui.open(f"/entry/{live.private_entries[0]}")
    expect(page.locator("#entry-error")).to_contain_text("may not see it")
    gui.open(f"/uploads/{upload_id}")
    expect(page.locator("#upload-error")).to_contain_text("may not see it")
    # the token the GUI held was revoked on logout
    assert page.evaluate("localStorage.getItem('bigmax.token')") is None


def test_broken_archive_shows_the_servers_message(gui, live, tmp_path):
    page = gui.login("alice", then="/uploads")
    bad = tmp_path / "results.zip"
    bad.write_bytes(b"PK\x03\x04 this is no zip file at all")
    page.set_input_files("#pick-files", [str(bad)])
    page.click("#start-upload")
    alert = page.locator("#upload-error .alert")
    expect(alert).to_contain_text("The upload failed")
    expect(alert).to_contain_text("results.zip")
    assert "/uploads/" not in page.url.rsplit("/uploads", 1)[1]


@pytest.mark.slow
def test_publish_with_embargo(gui, live, tmp_path):
    page = gui.login("alice", then="/uploads")
    folder = tmp_path / "run1"
    folder.mkdir()
    (folder / "one.extxyz").write_text(nomad2018_frames(210, 1))
    page.fill("#upload-name", "gui-embargo")
    page.set_input_files("#pick-folder", str(folder))  # a whole folder keeps its layout
    page.click("#start-upload")
    page.wait_for_url(re.compile(r".*/uploads/[a-z0-9]+$"))
    row = page.locator('tr[data-path="run1/one.extxyz"]')
    expect(row).to_have_attribute("data-state", "ok")
    expect(page.locator("#publish")).to_be_enabled()
    page.select_option("#embargo", "12")
    page.once("dialog", lambda d: d.accept())
    page.click("#publish")
    expect(page.locator("#visibility")).to_have_text("embargoed")
    expect(page.locator("#lift")).to_be_visible()
    upload_id = page.url.rsplit("/", 1)[1]
    assert live.api("GET", f"/uploads/{upload_id}", "alice").json()["visibility"] == "embargoed"


@pytest.mark.slow
def test_datasets_from_search_to_citation(gui, live):
    page = gui.login("alice", then="/datasets")
    page.fill("#dataset-name", "GUI picks")
    page.fill("#dataset-description", "two oxides picked in the browser")
    page.click("#dataset-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/datasets/[a-z0-9]+$"))
    dataset_url = page.url
    gui.open("/?el=In")
    ticks = page.locator("#results tbody input[type=checkbox]")
    ticks.nth(0).check()
    ticks.nth(1).check()
    ids = [ticks.nth(i).get_attribute("value") for i in range(2)]
    page.click("#dataset-menu summary")
    page.click("#add-to-dataset")
    expect(page.locator(".toast.ok")).to_contain_text("Added 2")
    page.goto(dataset_url)
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#members tbody tr")).to_have_count(2)
    assert {page.locator("#members tbody tr").nth(i).get_attribute("data-entry") for i in (0, 1)} \
        == set(ids)
    page.once("dialog", lambda d: d.accept())
    page.click("#freeze")
    # the toast says "Frozen", or why not (an API error shows its message there)
    expect(page.locator(".toast").last).to_contain_text("Frozen")
    expect(page.locator("#about")).to_contain_text("bigmax:ds/")
    expect(page.locator("#dataset-badges")).to_have_text("frozen")
    gui.screenshot("dataset")
    gui.open("/datasets")
    expect(page.locator("#datasets-table")).to_contain_text("GUI picks")
    gui.screenshot("datasets")


@pytest.mark.slow
def test_login_errors_and_token_management(gui, live):
    page = gui.open("/login")
    page.fill("#username", "alice")
    page.fill("#password", "wrong password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("Wrong username or password")
    gui.screenshot("login")
    gui.login("alice", then="/account")
    expect(page.locator("#tokens")).to_contain_text("this browser")
    page.fill("#token-name", "script")
    page.fill("#token-days", "7")
    page.fill("#token-password", "alice-password-1")
    page.click("#token-form button[type=submit]")
    secret = page.locator("#token-secret").inner_text().strip()
    me = live.api("GET", "/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    row = page.locator("#tokens tr", has_text="script")
    expect(row).to_contain_text("active")
    gui.screenshot("account")
    page.once("dialog", lambda d: d.accept())
    row.locator("button").click()
    expect(page.locator("#tokens tr", has_text="script")).to_contain_text("revoked")
    me = live.api("GET", "/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401
