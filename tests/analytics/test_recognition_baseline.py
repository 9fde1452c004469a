"""spglib and moyopy behind the classifier's API: exact on ideal cells, lost with defects."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from bigmax.analytics.recognition import (
    SymmetryBaseline,
    load_prototypes,
    noisy_copies,
)

NAMES = ["fcc", "bcc", "hcp", "diamond", "rocksalt", "zincblende", "wurtzite"]


@pytest.fixture(scope="module")
def protos():
    return load_prototypes(NAMES)


@pytest.mark.parametrize("backend", ["spglib", "moyopy"])
def test_symmetry_baseline_recognises_ideal_supercells_and_fails_on_vacancies(backend, protos):
    model = SymmetryBaseline(backend=backend).fit([p.atoms for p in protos],
                                                  [p.label for p in protos])
    real = [
        bulk("Ni", "fcc", a=3.52).repeat(3),
        bulk("Mo", "bcc", a=3.15, cubic=True).repeat(3),
        bulk("Ti", "hcp", a=2.95, c=4.68).repeat((3, 3, 2)),
        bulk("Si", "diamond", a=5.43).repeat(2),
        bulk("MgO", "rocksalt", a=4.21).repeat(3),
        bulk("GaAs", "zincblende", a=5.65).repeat(2),
        bulk("ZnO", "wurtzite", a=3.25, c=5.21).repeat((3, 3, 2)),
    ]
    truth = [p.label for p in protos]
    assert list(model.predict(real)) == truth
    proba = model.predict_proba(real)
    assert np.allclose(proba.sum(axis=1), 1.0)
    damaged = noisy_copies(real, vacancies=0.1, random_state=0)
    assert not np.any(model.predict(damaged) == np.array(truth))


def test_symmetry_baseline_validates_parameters(protos):
    with pytest.raises(ValueError, match="backend must be one of"):
        SymmetryBaseline(backend="findsym").fit([protos[0].atoms], ["x"])
    with pytest.raises(ValueError, match="symprec"):
        SymmetryBaseline(symprec=0).fit([protos[0].atoms], ["x"])


def test_a_distorted_prototype_does_not_shadow_its_parent_at_loose_tolerance():
    # at 0.2 A, ARISE's bct In (fcc stretched 7 %) symmetrises to fcc: the prototype that is
    # fcc exactly must be the answer, whatever the order of the references
    protos = load_prototypes(["bctIn_In_A_tI2_139_a", "fcc"])
    model = SymmetryBaseline("moyopy", 0.2).fit([p.atoms for p in protos],
                                                [p.label for p in protos])
    fcc = bulk("Ni", "fcc", a=3.52, cubic=True).repeat(3)
    assert model.predict([fcc])[0] == "fcc_Cu_A_cF4_225_a"
