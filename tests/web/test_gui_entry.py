"""Entry, material and plot pages in a real browser: the viewer draws, units switch, files
download, points click through."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

EV = 1.602176634e-19


def colours(png: bytes) -> int:
    """Distinct colours in a screenshot."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    return len(img.getcolors(maxcolors=1 << 20) or [])


def test_entry_from_search_draws_its_structure(gui, live):
    page = gui.open("/?el=Ga&band_gap=0:&sort=band_gap&order=desc")
    link = page.locator("#results tbody tr").first.locator("a").first
    entry_id = link.get_attribute("href").rsplit("/", 1)[1]
    link.click()
    page.wait_for_url(f"**/entry/{entry_id}")
    page.wait_for_selector("body[data-ready]")
    archive = live.api("GET", f"/entries/{entry_id}/archive").json()
    material = archive["results"]["material"]

    canvas = page.locator("#viewer canvas")
    expect(canvas).to_have_count(1)
    before = canvas.screenshot()
    assert colours(before) > 20, "the structure viewer drew nothing"
    # a 2x2x1 supercell draws four times the atoms: the picture changes
    page.fill("#rep-a", "2")
    page.press("#rep-a", "Enter")
    page.fill("#rep-b", "2")
    page.press("#rep-b", "Enter")
    page.wait_for_timeout(300)
    after = canvas.screenshot()
    assert after != before and colours(after) > 20
    page.uncheck("#show-bonds")
    page.uncheck("#show-cell")
    assert canvas.screenshot() != after

    sym = material["symmetry"]
    expect(page.locator("#symmetry")).to_contain_text(f"({sym['space_group_number']})")
    expect(page.locator("#symmetry")).to_contain_text(sym["crystal_system"])
    # band gap in eV, then in J after switching the unit
    gap = archive["results"]["properties"]["band_gap"]["value"]
    props = page.locator("#properties")
    expect(props).to_contain_text(f"{float(f'{gap / EV:.4g}'):g} eV")
    page.select_option("#unit-energy", "J")
    expect(props).to_contain_text(" J")
    assert " eV" not in props.inner_text()
    page.select_option("#unit-energy", "eV")
    expect(page.locator("#method")).to_contain_text(archive["results"]["method"]["program_name"])
    expect(page.locator("#provenance")).to_contain_text(archive["provenance"]["reader"])
    # the processed data as a tree: open results > material > symmetry
    tree = page.locator("#tree")
    tree.locator("summary:has-text('material')").first.click()
    tree.locator("summary:has-text('symmetry')").first.click()
    expect(tree).to_contain_text(f'"{sym["space_group_symbol"]}"')
    page.check("#show-bonds")
    page.check("#show-cell")
    gui.screenshot("entry")

    # the raw-file browser downloads the file byte for byte
    expect(page.locator("#files tr")).not_to_have_count(0)
    with page.expect_download() as info:
        page.click("#download-mainfile")
    raw = live.api("GET", f"/entries/{entry_id}/raw").content
    assert open(info.value.path(), "rb").read() == raw


@pytest.mark.slow
def test_material_page_lists_every_entry_of_the_material(gui, live):
    r = live.api(
        "POST",
        "/entries/query",
        json={
            "query": {"n_elements": 3},
            "pagination": {"page_size": 0},
            "aggregations": {"f": {"terms": {"quantity": "formula_reduced", "size": 1}}},
        },
    ).json()
    formula = r["aggregations"]["f"]["terms"]["data"][0]["value"]
    n = live.count({"formula_reduced": formula})
    assert n >= 2
    page = gui.open(f"/material?formula={formula}")
    expect(page.locator("#material-meta")).to_have_text(f"{n} entries")
    expect(page.locator("#compare thead th")).to_have_count(1 + min(n, 12))
    expect(page.locator("#compare")).to_contain_text("Band gap")
    gui.screenshot("material")
    page.locator("#compare thead a").first.click()
    page.wait_for_url("**/entry/*")


@pytest.mark.slow
def test_plot_explorer_scatter_hover_click_and_histogram(gui, live):
    page = gui.open("/plot?el=O&x=band_gap&y=formation_energy_per_atom&c=n_elements")
    both = live.count(
        {
            "and": [
                {"elements:all": ["O"]},
                {"not": {"band_gap": None}},
                {"not": {"formation_energy_per_atom": None}},
            ]
        }
    )
    assert both > 5
    expect(page.locator("#scatter")).to_have_attribute("data-points", str(min(both, 1000)))
    points = page.locator("#scatter .scatterlayer .point")
    expect(points).to_have_count(min(both, 1000))
    expect(page.locator("#histogram .bars .point")).not_to_have_count(0)
    gui.screenshot("plot")
    box = points.first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator(".hoverlayer .hovertext")).to_have_count(1)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/entry/*")
    page.wait_for_selector("body[data-ready]")


def test_unknown_entry_says_so(gui, live):
    page = gui.open("/entry/no-such-entry")
    expect(page.locator("#entry-error")).to_contain_text("No entry no-such-entry")


def test_experiment_entry_shows_its_summary_and_curve(gui, live, tmp_path):
    # a real photoemission event file (FHI METIS) uploaded by alice: the entry page shows the
    # experiment card with the reader's summary and draws its curve without plotting library
    import shutil

    from bigmax.archive.ingest import ingest

    src = Path(__file__).resolve().parents[1] / "data/mpes/sed/tests/data/loader/mpes"
    folder = tmp_path / "metis"
    folder.mkdir()
    shutil.copy(src / "Scan0030_2.h5", folder)
    alice = live.api("GET", "/auth/me", "alice").json()
    report = ingest([folder], upload="gui-metis", settings=live.settings,
                    owner_id=alice["user_id"])
    body = {"query": {"upload_id": report.upload_id}, "required": ["entry_id"]}
    (row,) = live.api("POST", "/entries/query", "alice", json=body).json()["data"]
    archive = live.api("GET", f"/entries/{row['entry_id']}/archive", "alice").json()
    experiment = archive["results"]["experiment"]
    assert experiment["technique"] == "multidimensional photoemission"
    assert experiment["curves"], "the reader stored no summary curve"

    gui.login("alice", then=f"/entry/{row['entry_id']}")
    card = gui.page.locator("#experiment-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("multidimensional photoemission")
    expect(card).to_contain_text(f"{experiment['n_events']:,}")
    expect(gui.page.locator("#structure")).to_be_hidden()  # no structure: no empty cards
    line = card.locator("svg.curve polyline").first
    points = line.get_attribute("points").split()
    assert len(points) > 10 and len({p.split(",")[1] for p in points}) > 5
    gui.screenshot("entry_experiment")
