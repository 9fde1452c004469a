"""Structure descriptors: shapes, invariances, parallel = serial, sparse = dense, MBTR shim."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.sparse as sp
from ase import Atoms
from ase.build import bulk
from ase.io import read

from bigmax.analytics.descriptors import (
    ACSFDescriptor,
    EwaldMatrixDescriptor,
    MBTRDescriptor,
    SineMatrixDescriptor,
    SOAPDescriptor,
    StructureError,
    structure_index,
)
from bigmax.analytics.descriptors import _dscribe_compat as compat
from bigmax.analytics.descriptors.cell import CellDescriptor
from bigmax.demo import nomad2018_frames


@pytest.fixture(scope="module")
def crystals():
    return [
        bulk("NaCl", "rocksalt", a=5.64),
        bulk("NaCl", "rocksalt", a=5.64, cubic=True),
        bulk("Cl", "fcc", a=4.0) * (2, 1, 1),
    ]


@pytest.fixture(scope="module")
def oxides():
    """Six real NOMAD 2018 cells (20-80 atoms), from the packaged demo data."""
    return read(io.StringIO(nomad2018_frames(0, 6)), index=":", format="extxyz")


SMALL_SOAP = {"r_cut": 4.0, "n_max": 3, "l_max": 2}


def test_soap_learns_species_and_is_permutation_and_rotation_invariant(crystals):
    soap = SOAPDescriptor(**SMALL_SOAP).fit(crystals)
    assert soap.species_ == ["Na", "Cl"] and soap.periodic_
    x = soap.transform(crystals)
    assert x.shape == (3, soap.n_features_out_) and np.isfinite(x).all()
    # the primitive and the conventional cell of rocksalt are the same crystal
    np.testing.assert_allclose(x[0], x[1], rtol=1e-6, atol=1e-8)
    moved = crystals[1].copy()
    moved.rotate(33, "z", rotate_cell=True)
    moved.translate([0.3, -0.2, 0.1])
    order = np.random.default_rng(0).permutation(len(moved))
    moved = moved[order]
    np.testing.assert_allclose(soap.transform([moved])[0], x[1], rtol=1e-6, atol=1e-8)


def test_soap_per_atom_rows_and_sparse_equal_dense(crystals):
    dense = SOAPDescriptor(**SMALL_SOAP, average="off").fit(crystals)
    sparse = SOAPDescriptor(**SMALL_SOAP, average="off", sparse=True).fit(crystals)
    x, xs = dense.transform(crystals), sparse.transform(crystals)
    n_atoms = sum(len(a) for a in crystals)
    assert x.shape == (n_atoms, dense.n_features_out_)
    assert sp.issparse(xs) and xs.format == "csr"
    np.testing.assert_allclose(xs.toarray(), x)
    rows = structure_index(crystals)
    assert rows.tolist() == [0, 0] + [1] * 8 + [2, 2]
    # the per-atom "inner" average is not the mean of rows, but the outer average is
    outer = SOAPDescriptor(**SMALL_SOAP, average="outer").fit(crystals).transform(crystals)
    np.testing.assert_allclose(outer[1], x[rows == 1].mean(axis=0), rtol=1e-6, atol=1e-10)


def test_mbtr_k2_peaks_at_the_inverse_nearest_distance():
    """A NaCl dimer: the Na-Cl block of k2 peaks at 1/d; the periodic crystal works too."""
    d = 2.5
    dimer = Atoms("NaCl", positions=[[0, 0, 0], [d, 0, 0]])
    mbtr = MBTRDescriptor(
        geometry="inverse_distance",
        grid_min=0.0,
        grid_max=1.0,
        n_grid=201,
        sigma=0.01,
        weighting=None,
        normalization="none",
    ).fit([dimer])
    x = mbtr.transform([dimer])[0]
    grid = np.linspace(0, 1, 201)
    blocks = x.reshape(-1, 201)  # pairs Na-Na, Na-Cl, Cl-Cl in dscribe's order
    assert blocks.shape[0] == 3
    assert np.allclose(blocks[0], 0) and np.allclose(blocks[2], 0)
    assert abs(grid[np.argmax(blocks[1])] - 1 / d) <= 0.005
    crystal = bulk("NaCl", "rocksalt", a=5.64)
    k2 = MBTRDescriptor().fit([crystal]).transform([crystal])
    assert k2.shape == (1, 300) and np.isfinite(k2).all() and k2.any()


def test_mbtr_k3_empty_term_is_zero_not_nan():
    """Two far-apart atoms have no triplet within the weighting cutoff: l2 of zero is NaN in
    dscribe; we return zeros."""
    pair = Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[30, 30, 30], pbc=True)
    x = MBTRDescriptor(geometry="cosine", scale=2.0).fit([pair]).transform([pair])
    assert np.isfinite(x).all()


@pytest.mark.slow  # starting loky workers takes 5-20 s on a busy 2-core machine
def test_parallel_equals_serial_and_sparse_equals_dense(oxides):
    """Two worker processes (each applies the MBTR shim itself) give the serial rows."""
    few = oxides[:4]
    serial = SOAPDescriptor(**SMALL_SOAP).fit(few).transform(few)
    parallel = SOAPDescriptor(**SMALL_SOAP, n_jobs=2).fit(few).transform(few)
    np.testing.assert_allclose(parallel, serial)
    kw = {"grid_max": 0.7, "n_grid": 50, "sigma": 0.02}
    dense = MBTRDescriptor(**kw).fit(few).transform(few)
    sparse = MBTRDescriptor(**kw, sparse=True, n_jobs=2).fit(few).transform(few)
    assert sp.issparse(sparse)
    np.testing.assert_allclose(sparse.toarray(), dense, rtol=1e-6, atol=1e-12)


def test_shim_applies_only_when_needed_and_fixes_system():
    """With ASE >= 3.27 dscribe's System fails without the shim; with it, it keeps every
    field of the Atoms."""
    import ase
    from dscribe.core.system import System

    needed = tuple(int(v) for v in ase.__version__.split(".")[:2]) >= (3, 27)
    compat.ensure_dscribe_compat()
    assert getattr(System.__init__, "_bigmax_shim", False) == needed
    assert not compat.dscribe_system_needs_shim()  # working now, either way
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    atoms.set_initial_charges([1.0, -1.0])
    atoms.set_tags([3, 4])
    atoms.info["note"] = "kept"
    system = System.from_atoms(atoms)
    assert system.get_chemical_symbols() == ["Na", "Cl"]
    np.testing.assert_allclose(system.cell.array, atoms.cell.array)
    np.testing.assert_allclose(system.get_initial_charges(), [1.0, -1.0])
    assert system.get_tags().tolist() == [3, 4] and system.info["note"] == "kept"
    assert system.pbc.all()


def test_acsf_per_atom_and_mean(crystals):
    per_atom = ACSFDescriptor(r_cut=5.0).fit(crystals)
    x = per_atom.transform(crystals)
    assert x.shape[0] == sum(len(a) for a in crystals)
    mean = ACSFDescriptor(r_cut=5.0, average="mean").fit(crystals).transform(crystals)
    rows = structure_index(crystals)
    np.testing.assert_allclose(mean[2], x[rows == 2].mean(axis=0))
    sparse_mean = ACSFDescriptor(r_cut=5.0, average="mean", sparse=True).fit(crystals)
    np.testing.assert_allclose(sparse_mean.transform(crystals).toarray(), mean, atol=1e-12)


def test_matrix_descriptors_pad_to_the_largest_fitted(crystals):
    for cls in (SineMatrixDescriptor, EwaldMatrixDescriptor):
        d = cls().fit(crystals)
        assert d.n_atoms_max_ == 8
        x = d.transform(crystals)
        assert x.shape == (3, 8) and np.isfinite(x).all()
        assert np.allclose(x[0, 2:], 0)  # 2 atoms: 2 eigenvalues, then padding
        with pytest.raises(StructureError, match="structure 0: 16 atoms, more than"):
            d.transform([crystals[1] * (2, 1, 1)])
    with pytest.raises(StructureError, match="needs a periodic cell"):
        SineMatrixDescriptor().fit([Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]])])


def test_cell_descriptor_values_and_space_groups(oxides):
    d = CellDescriptor(parts=("lengths", "angles", "volume_per_atom", "n_atoms"))
    cu = [bulk("Cu", "fcc", a=3.6, cubic=True)]
    x = d.fit(cu).transform(cu)
    np.testing.assert_allclose(x[0], [3.6, 3.6, 3.6, 90, 90, 90, 3.6**3 / 4, 4])
    labelled = CellDescriptor(space_group="dataset_spacegroup").fit(oxides)
    groups = [int(a.info["dataset_spacegroup"]) for a in oxides]
    assert labelled.space_groups_ == sorted(set(groups))
    onehot = labelled.transform(oxides)[:, -len(labelled.space_groups_) :]
    assert (onehot.sum(axis=1) == 1).all()
    spg = CellDescriptor(space_group="spglib").fit([bulk("Cu", "fcc", a=3.6)])
    assert spg.space_groups_ == [225]


def test_descriptors_work_in_a_pipeline(oxides):
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import StandardScaler

    from bigmax.analytics.descriptors.composition import CompositionDescriptor
    from bigmax.analytics.kernels import KernelRidgeRegressor

    y = np.array([a.info["formation_energy_per_atom"] for a in oxides])
    model = make_pipeline(
        make_union(SOAPDescriptor(**SMALL_SOAP), CompositionDescriptor(), CellDescriptor()),
        StandardScaler(),
        KernelRidgeRegressor(alpha=1e-6),
    )
    model.fit(oxides, y)
    np.testing.assert_allclose(model.predict(oxides), y, atol=1e-3)
