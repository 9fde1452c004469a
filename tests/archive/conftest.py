"""Real inputs for archive tests, cut from the demo data that BigMax ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from bigmax.demo import nomad2018_frames, octet_binaries_csv


def nomad_frames(n: int) -> str:
    """The first ``n`` frames of the shipped NOMAD 2018 extxyz file, as text."""
    return nomad2018_frames(0, n)


@pytest.fixture(name="nomad_frames")
def nomad_frames_fixture():
    return nomad_frames


@pytest.fixture
def upload_dir(tmp_path) -> Path:
    """A folder like a user's: 12 structures, the 82-row table, a note and a broken CIF."""
    folder = tmp_path / "my-upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "oxides.extxyz").write_text(nomad_frames(12))
    (folder / "octet_binaries_82.csv").write_bytes(octet_binaries_csv())
    (folder / "notes.txt").write_text("measured on the old machine\n")
    (folder / "broken.cif").write_text("data_x\n_cell_length_a 3.0\nthis is not a CIF loop\n")
    return folder
