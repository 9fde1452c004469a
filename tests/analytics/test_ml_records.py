"""The archive bridge: entries, OPTIMADE rows, flat rows, Atoms and extxyz to Atoms + targets."""

from __future__ import annotations

import io

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read, write

from bigmax.analytics.descriptors import StructureError
from bigmax.analytics.descriptors.records import structures_from_extxyz, structures_from_records
from bigmax.demo import nomad2018_frames

EV = 1.602176634e-19


def _entry(entry_id: str, gap_ev: float | None) -> dict:
    """A BigMax entry as the archive stores it: SI units, band gap as a section."""
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    props = {"formation_energy_per_atom": -2.0 * EV, "extra": {"bulk_modulus": 25.0}}
    if gap_ev is not None:
        props["band_gap"] = {"value": gap_ev * EV, "type": "direct"}
    return {
        "entry_id": entry_id,
        "results": {
            "material": {
                "structure": {
                    "species": nacl.get_chemical_symbols(),
                    "positions": (nacl.positions * 1e-10).tolist(),
                    "cell": (nacl.cell.array * 1e-10).tolist(),
                    "pbc": [True, True, True],
                }
            },
            "properties": props,
        },
    }


def test_bigmax_entries_in_si_become_angstrom_and_ev():
    entries = [_entry("e1", 5.0), _entry("e2", 8.5)]
    atoms, y = structures_from_records(entries, "band_gap", target_scale=1 / EV)
    np.testing.assert_allclose(y, [5.0, 8.5])
    np.testing.assert_allclose(atoms[0].cell.cellpar()[:3], [3.988] * 3, atol=1e-3)
    assert atoms[0].info["source"] == "e1" and atoms[1].info["record_index"] == 1
    _, extra = structures_from_records(entries, "bulk_modulus")
    assert extra.tolist() == [25.0, 25.0]
    _, path = structures_from_records(entries, "results.properties.band_gap.value")
    np.testing.assert_allclose(path / EV, [5.0, 8.5])


def test_missing_targets_raise_or_are_skipped():
    entries = [_entry("e1", 5.0), _entry("e2", None), _entry("e3", 1.0)]
    with pytest.raises(StructureError, match=r"record 1 \(e2\): no value for target 'band_gap'"):
        structures_from_records(entries, "band_gap")
    atoms, y = structures_from_records(entries, "band_gap", target_scale=1 / EV, skip_missing=True)
    assert [a.info["record_index"] for a in atoms] == [0, 2]
    np.testing.assert_allclose(y, [5.0, 1.0])
    with pytest.raises(StructureError, match="no record has a value for target 'nope'"):
        structures_from_records(entries, "nope", skip_missing=True)


def test_optimade_rows_and_flat_rows():
    optimade = {
        "id": "mp-1",
        "type": "structures",
        "attributes": {
            "species_at_sites": ["Si", "Si"],
            "cartesian_site_positions": [[0, 0, 0], [1.3575, 1.3575, 1.3575]],
            "lattice_vectors": [[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]],
            "dimension_types": [1, 1, 1],
            "_bigmax_band_gap": 1.1,
        },
    }
    flat = {
        "name": "dimer",
        "structure": {"species": ["H", "H"], "positions": [[0, 0, 0], [0.74, 0, 0]]},
        "energy": -31.7,
    }
    atoms, y = structures_from_records([optimade], "_bigmax_band_gap")
    assert atoms[0].pbc.all() and y.tolist() == [1.1]
    assert atoms[0].get_distance(0, 1) == pytest.approx(2.351, abs=1e-3)
    atoms, y = structures_from_records([flat], "energy")
    assert not atoms[0].pbc.any() and atoms[0].get_distance(0, 1) == pytest.approx(0.74)


def test_atoms_and_an_extxyz_export(tmp_path):
    frames = read(io.StringIO(nomad2018_frames(0, 10)), index=":", format="extxyz")
    for atoms in frames[5:]:
        del atoms.info["band_gap"]  # as the 600 test entries of the Kaggle set
    path = tmp_path / "export.extxyz"
    write(path, frames, format="extxyz")
    atoms, y = structures_from_extxyz(path, "band_gap", skip_missing=True)
    assert len(atoms) == 5 and (y > 0).all()
    assert atoms[0].info["source"] == "export.extxyz frame 0"
    with pytest.raises(StructureError, match=r"record 5 \(export.extxyz frame 5\): no value"):
        structures_from_extxyz(path, "band_gap")
    same, y2 = structures_from_records(atoms, "band_gap")
    np.testing.assert_allclose(y2, y)
    assert same[0] is not atoms[0]  # copies: the caller's Atoms are left alone


def test_bad_records_are_named(tmp_path):
    with pytest.raises(StructureError, match=r"record 0 \(x1\): no structure found"):
        structures_from_records([{"entry_id": "x1", "results": {}}])
    with pytest.raises(StructureError, match=r"record 1: expected a dict or ase.Atoms, got int"):
        structures_from_records([Atoms("H"), 3])
    with pytest.raises(StructureError, match="target 'energy' is 'high', not a number"):
        structures_from_records([{"structure": {"species": ["H"], "positions": [[0, 0, 0]]},
                                  "energy": "high"}], "energy")
    with pytest.raises(StructureError, match="record 0: cannot build a structure"):
        structures_from_records([{"structure": {"species": ["H", "H"], "positions": [[0, 0]]}}])
    with pytest.raises(StructureError, match="no records given"):
        structures_from_records([])
    bad = tmp_path / "bad.extxyz"
    bad.write_text("2\nLattice=\"1 0 0 0 1 0 0 0 1\" Properties=species:S:1:pos:R:3\nH 0 0 0\n")
    with pytest.raises(StructureError, match="bad.extxyz frame 0: not valid extended XYZ"):
        structures_from_extxyz(bad)
