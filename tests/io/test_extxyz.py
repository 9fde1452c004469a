"""The extxyz fast path must give exactly what ``ase.io.read`` gives."""

from __future__ import annotations

import lzma
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from bigmax.io.extxyz import index_frames, iter_frames

DATA = Path(__file__).resolve().parents[1] / "data"


def assert_same(ours, ase):
    assert (ours.numbers == ase.numbers).all()
    assert np.array_equal(ours.positions, ase.positions)
    assert np.array_equal(ours.cell.array, ase.cell.array)
    assert (ours.pbc == ase.pbc).all()
    assert list(ours.info) == list(ase.info)
    for key, value in ase.info.items():
        assert type(ours.info[key]) is type(value), key
        assert np.array_equal(ours.info[key], value), key
    assert list(ours.arrays) == list(ase.arrays)
    for key, value in ase.arrays.items():
        assert ours.arrays[key].dtype == value.dtype, key
        assert np.array_equal(ours.arrays[key], value), key
    ours_calc = ours.calc.results if ours.calc else {}
    ase_calc = ase.calc.results if ase.calc else {}
    assert list(ours_calc) == list(ase_calc)
    for key, value in ase_calc.items():
        assert type(ours_calc[key]) is type(value), key
        assert np.array_equal(ours_calc[key], value), key


def compare(path: Path) -> int:
    ours = list(iter_frames(path, index_frames(path)))
    ase = read(path, index=":", format="extxyz")
    assert len(ours) == len(ase)
    for a, b in zip(ours, ase, strict=True):
        assert_same(a, b)
    return len(ours)


def test_test_data(data=DATA):
    assert compare(data / "extxyz/nomad2018_train_5-7.extxyz") == 3


def test_demo_frames(tmp_path):
    demo = resources.files("bigmax") / "data" / "demo" / "nomad2018.extxyz.xz"
    path = tmp_path / "demo.extxyz"
    with lzma.open(demo, "rb") as fh:
        path.write_bytes(fh.read())
    assert compare(path) > 1000


FRAMES = {
    "forces_energy_stress": (
        "2\n"
        'Lattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3:forces:R:3 '
        'energy=-7.5 stress="1 0 0 0 1 0 0 0 1" band_gap_type=direct T=300 label=bcc '
        'basis_set="plane waves" pbc="T T F" flag n=3 v="1 2 3"\n'
        "fe 0 0 0 0.1 0 0\n"
        "Fe 1.5 1.5 1.5 -0.1 0 0\n"
    ),
    "plain_xyz": "2\nwater, sort of\nO 0 0 0\nH 0 0 1.0\n",
    "empty_comment": "1\n\nH 0 0 0\n",
    "ints_and_extra_columns": (
        "2\nProperties=species:S:1:pos:R:3:tags:I:1:charge:R:1 uid=007\n"
        "H 0 0 0 1 0.5\nH 0 0 1e-1 2 -0.5\n"
    ),
    "logical_column": "1\nProperties=species:S:1:pos:R:3:fixed:L:1\nH 0 0 0 T\n",
    "escaped_quotes": '1\nlabel="a \\"b\\"" other={1 2}\nH 0 0 0\n',
    "json_value": '1\nd="_JSON {\\"a\\": 1}"\nH 0 0 0\n',
    "extra_tokens_on_a_row": "1\nenergy=1\nH 0 0 0 extra\n",
    "numbers_column": "1\nProperties=Z:I:1:pos:R:3\n8 0 0 0\n",
    "crlf": '1\r\nenergy=1.5 pbc="F F F"\r\nH 0 0 0\r\n1\r\nenergy=2\r\nH 0 0 1\r\n',
}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_unusual_frames_match_ase(tmp_path, name):
    path = tmp_path / f"{name}.extxyz"
    path.write_bytes(FRAMES[name].encode())
    assert compare(path) >= 1


def test_bad_header_raises_before_any_frame(tmp_path):
    path = tmp_path / "bad.extxyz"
    path.write_text("1\nenergy=1\nH 0 0 0\nnot-a-count\nx\n")
    with pytest.raises(ValueError, match="atom count"):
        index_frames(path)


def test_truncated_last_frame_raises_like_ase(tmp_path):
    path = tmp_path / "cut.extxyz"
    path.write_text("1\nenergy=1\nH 0 0 0\n3\nenergy=2\nH 0 0 0\n")
    frames = iter_frames(path, index_frames(path))
    assert next(frames).get_potential_energy() == 1
    with pytest.raises(Exception, match="Frame has 1 atoms, expected 3"):
        next(frames)
