"""Bad input: one clear StructureError (a ValueError) naming the structure, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.descriptors import (
    MBTRDescriptor,
    SineMatrixDescriptor,
    SOAPDescriptor,
    StructureError,
    check_structures,
)
from bigmax.analytics.descriptors.composition import CompositionDescriptor

GOOD = bulk("NaCl", "rocksalt", a=5.64)


def _overlapping() -> Atoms:
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.positions[3] = atoms.positions[0] + [0.2, 0.1, 0.0]
    atoms.info["source"] = "train/7/geometry.xyz"
    return atoms


@pytest.mark.parametrize(
    "descriptor",
    [
        SOAPDescriptor(r_cut=4.0, n_max=2, l_max=1),
        MBTRDescriptor(),
        SineMatrixDescriptor(),
    ],
    ids=["soap", "mbtr", "sine"],
)
def test_each_bad_structure_is_named(descriptor):
    with pytest.raises(StructureError, match=r"structure 1: empty, it has no atoms"):
        descriptor.fit([GOOD, Atoms(cell=np.eye(3) * 4, pbc=True)])
    with pytest.raises(
        StructureError,
        match=r"structure 1 \(train/7/geometry.xyz\): atoms 0 and 3 are 0.224 Å apart",
    ):
        descriptor.fit([GOOD, _overlapping()])
    unknown = GOOD.copy()
    unknown.numbers[1] = 0  # "X", no element
    with pytest.raises(StructureError, match=r"structure 2: atom 1 has an unknown element"):
        descriptor.fit([GOOD, GOOD, unknown])
    fitted = descriptor.fit([GOOD])
    if isinstance(descriptor, SineMatrixDescriptor):
        return  # matrix descriptors take any element
    with pytest.raises(StructureError, match=r"structure 0: element\(s\) Cu not among the species"):
        fitted.transform([bulk("Cu", "fcc", a=3.6)])


def test_a_too_small_cell_is_an_overlap_with_the_image():
    tiny = Atoms("Na", positions=[[0, 0, 0]], cell=[0.4, 5, 5], pbc=True)
    with pytest.raises(StructureError, match="from its own periodic image"):
        check_structures([tiny])


@pytest.mark.parametrize(
    "bad, message",
    [
        (GOOD, "got a single Atoms: wrap it in a list"),
        ([], "no structures given"),
        (np.zeros((3, 4)), "not feature matrices"),
        ([GOOD, "NaCl"], "structure 1: expected ase.Atoms, got str"),
    ],
)
def test_wrong_containers(bad, message):
    with pytest.raises(StructureError, match=message):
        SOAPDescriptor(r_cut=4.0, n_max=2, l_max=1).fit(bad)


def test_nan_positions_and_singular_cells():
    nan = GOOD.copy()
    nan.positions[0, 0] = np.nan
    with pytest.raises(StructureError, match="structure 0: positions contain NaN"):
        check_structures([nan])
    flat = Atoms("Na", positions=[[0, 0, 0]], cell=[[1, 0, 0], [2, 0, 0], [0, 0, 1]], pbc=True)
    with pytest.raises(StructureError, match="cell is singular"):
        check_structures([flat])


def test_composition_errors_name_the_entry():
    with pytest.raises(StructureError, match=r"composition 1 \('Al2O3\)'\): not a formula"):
        CompositionDescriptor().fit(["Al2O3", "Al2O3)"])
    with pytest.raises(StructureError, match="composition 1: unknown element 'Xy'"):
        CompositionDescriptor().fit(["Al2O3", "Xy2O"])
    with pytest.raises(StructureError, match="composition 0: unknown element 'Qq'"):
        CompositionDescriptor().fit([{"Qq": 1}])
    with pytest.raises(StructureError, match=r"structure 1: empty"):
        CompositionDescriptor().fit([GOOD, Atoms()])
    with pytest.raises(StructureError, match="no electronegativity is tabulated for Ar"):
        CompositionDescriptor().fit(["Ar"])
    assert isinstance(StructureError("x"), ValueError)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 5),
    pbc=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    seed=st.integers(0, 2**31 - 1),
    cutoff=st.floats(0.3, 2.5),
)
def test_overlap_check_agrees_with_ase_neighbour_list(n, pbc, seed, cutoff):
    """Exact, also for skewed cells and images: same verdict as ASE's neighbour list."""
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * rng.uniform(1.5, 5.0) + rng.normal(0, 1.0, (3, 3))
    if abs(np.linalg.det(cell)) < 1.0:
        return
    atoms = Atoms(f"H{n}", scaled_positions=rng.uniform(size=(n, 3)), cell=cell, pbc=pbc)
    close = len(neighbor_list("d", atoms, cutoff)) > 0
    try:
        check_structures([atoms], min_distance=cutoff)
    except StructureError as err:
        assert close, str(err)
        assert "structure 0" in str(err)
    else:
        assert not close


@settings(max_examples=40, deadline=None)
@given(
    symbols=st.lists(st.sampled_from(["H", "Na", "Cl", "X", "O"]), min_size=0, max_size=4),
    spacing=st.floats(0.05, 3.0),
)
def test_any_input_gives_features_or_one_structure_error(symbols, spacing):
    atoms = Atoms(
        symbols,
        positions=[[i * spacing, 0, 0] for i in range(len(symbols))],
        cell=[20, 20, 20],
        pbc=True,
    )
    try:
        x = CompositionDescriptor(properties=["atomic_mass"]).fit_transform([atoms])
    except StructureError as err:
        assert str(err).startswith("structure 0")
    else:
        assert np.isfinite(x).all()
    try:
        check_structures([atoms])
    except StructureError as err:
        assert str(err).startswith("structure 0")
        assert not symbols or "X" in symbols or spacing < 0.5
    else:
        assert symbols and "X" not in symbols and (len(symbols) == 1 or spacing >= 0.5)
