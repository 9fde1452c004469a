"""The search page in a real browser: periodic table, sliders, facets, sorting, the URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

EV = 1.602176634e-19


def shown(n: int) -> str:
    return f"{n:,} {'entry' if n == 1 else 'entries'}"


def params(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_search_then_filter_by_periodic_table_and_slider(gui, live):
    page = gui.open("/")
    expect(page.locator("#total")).to_have_text(shown(live.count(None)))
    # the periodic table shows counts from the archive
    ga = page.locator('.ptable [data-el="Ga"]')
    expect(ga.locator(".n")).to_have_text(re.compile(r"\d"))
    assert page.locator('.ptable [data-el="Pu"]').get_attribute("class").endswith("empty")

    ga.click()
    with_ga = live.count({"elements:all": ["Ga"]})
    expect(page.locator("#total")).to_have_text(shown(with_ga))
    expect(ga).to_have_attribute("aria-pressed", "true")
    assert params(page)["el"] == ["Ga"]
    formulas = page.locator("#results tbody tr td:first-child").all_inner_texts()
    assert formulas and all("Ga" in f for f in formulas)

    # the band-gap slider: type a lower bound (eV), then drag the upper thumb with the keyboard
    page.fill("#r-band_gap-lo-n", "2")
    page.press("#r-band_gap-lo-n", "Enter")
    expected = live.count({"elements:all": ["Ga"], "band_gap": {"gte": 2 * EV}})
    assert 0 < expected < with_ga
    expect(page.locator("#total")).to_have_text(shown(expected))
    assert params(page)["band_gap"] == ["2:"]
    hi = page.locator("#r-band_gap-hi")
    hi.focus()
    for _ in range(80):
        page.keyboard.press("ArrowLeft")
    hi.dispatch_event("change")
    low, top = params(page)["band_gap"][0].split(":")
    assert low == "2" and 2 < float(top) < 6  # the typed bound stays as typed
    top = float(top)
    expected = live.count({"elements:all": ["Ga"], "band_gap": {"gte": 2 * EV, "lte": top * EV}})
    expect(page.locator("#total")).to_have_text(shown(expected))
    # the histogram colours the bars inside the range
    assert page.locator('[data-field="band_gap"] svg rect.in').count() > 0
    assert page.locator('[data-field="band_gap"] svg rect.out').count() > 0
    gui.screenshot("search")

    # the query lives in the URL: a reload shows the same search
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#total")).to_have_text(shown(expected))
    expect(page.locator(".chip").first).to_contain_text("Ga")


@pytest.mark.slow
def test_element_modes_terms_and_sorting(gui, live):
    page = gui.open("/?el=Ga,O")
    expect(page.locator("#total")).to_have_text(shown(live.count({"elements:all": ["Ga", "O"]})))
    page.click('#elop label:has-text("OR")')
    expect(page.locator("#total")).to_have_text(shown(live.count({"elements:any": ["Ga", "O"]})))
    page.click('#elop label:has-text("ONLY")')
    only = live.count({"elements:only": ["Ga", "O"]})
    expect(page.locator("#total")).to_have_text(shown(only))
    assert params(page)["elop"] == ["only"]

    page.goto(live.url + "/")
    page.wait_for_selector("body[data-ready]")
    system = page.locator('[data-field="crystal_system"] input').first
    cs = system.get_attribute("data-value")
    system.check()
    page.wait_for_selector("body:not([data-pending])")
    expect(page.locator("#total")).to_have_text(shown(live.count({"crystal_system:any": [cs]})))
    n_el = page.locator('[data-field="n_elements"] input').first
    n = int(n_el.get_attribute("data-value"))
    n_el.check()
    both = live.count({"n_elements:any": [n], "crystal_system:any": [cs]})
    expect(page.locator("#total")).to_have_text(shown(both))
    assert params(page)["cs"] == [cs] and params(page)["ne"] == [str(n)]
    # the facet's own counts ignore its own condition, so the other systems stay choosable
    assert page.locator('[data-field="crystal_system"] input').count() > 1

    page.goto(live.url + "/")
    page.wait_for_selector("body[data-ready]")
    page.click('th button[data-field="band_gap"]')
    expect(page.locator('th[aria-sort="descending"]')).to_have_count(1)
    r = live.api(
        "POST",
        "/entries/query",
        json={
            "pagination": {"page_size": 1, "order_by": "band_gap", "order": "desc"},
            "required": ["formula_reduced", "band_gap"],
        },
    ).json()
    first = r["data"][0]
    # missing values sort as the largest: last ascending, first descending (docs/search.md)
    cells = page.locator("#results tbody tr").first.locator("td")
    assert cells.first.inner_text().replace("\n", "") == first["formula_reduced"]
    assert params(page)["sort"] == ["band_gap"] and params(page)["order"] == ["desc"]


@pytest.mark.slow
def test_columns_are_configurable_and_paging_walks_all(gui, live):
    page = gui.open("/")
    page.click("#columns-menu summary")
    page.check('#columns input[value="entry_id"]')
    expect(page.locator('th button[data-field="entry_id"]')).to_have_count(1)
    page.uncheck('#columns input[value="program_name"]')
    expect(page.locator('th button[data-field="program_name"]')).to_have_count(0)
    assert "entry_id" in params(page)["cols"][0]
    # energies in J instead of eV: the header's unit follows
    page.select_option("#unit-J", "J")
    expect(page.locator('th button[data-field="band_gap"]')).to_contain_text("(J)")
    page.select_option("#unit-J", "eV")
    page.click("#columns-menu summary")

    page.select_option("#page-size", "100")
    expect(page.locator("#page-info")).to_have_text("1–100")
    total = live.count(None)
    page.click("#next")
    expect(page.locator("#page-info")).to_have_text(f"101–{min(200, total)}")
    page.click("#prev")
    expect(page.locator("#page-info")).to_have_text("1–100")


@pytest.mark.slow
def test_download_the_whole_result(gui, live):
    page = gui.open("/?el=In")
    page.click("#download-menu summary")
    page.select_option("#download-format", "csv")
    with page.expect_download() as info:
        page.click("#download")
    path = info.value.path()
    lines = open(path, encoding="utf-8").read().strip().splitlines()
    assert len(lines) - 1 == live.count({"elements:all": ["In"]})


def test_phone_layout_has_no_sideways_scroll(browser, live):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(live.url + "/")
    page.wait_for_selector("body[data-ready]")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=str(_img("search_phone")), full_page=False)
    context.close()


def _img(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "img" / f"gui_{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
