"""Gibbsian interfacial excess (ladder method) against the excess planted by the generator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.apt.excess import ExcessError, interfacial_excess
from bigmax.techniques.apt.profiles import cylinder_coordinates
from bigmax.techniques.apt.synthetic import synthetic_specimen


def measure(seed, normal=(0.0, 0.0, 1.0), excess=3.0, n=400_000, **kw):
    s = synthetic_specimen(n, seed=seed, aspect=(3, 3, 1), excess=excess,
                           interface_normal=normal, **kw)
    u = s.interface_normal
    length = 0.9 * s.box[2]
    radius = 0.4 * min(s.box[:2])
    idx, t = cylinder_coordinates(s.xyz, s.interface_point - u * length / 2, u * length, radius)
    solute = s.species[idx] == s.species_index("P")
    res = interfacial_excess(t, solute, area=np.pi * radius**2,
                             efficiency=s.detection_efficiency)
    return s, res


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("normal", [(0, 0, 1), (0.3, -0.2, 1.0)])
def test_excess_within_ten_percent_of_the_planted_truth(seed, normal):
    s, res = measure(seed, normal)
    assert res.excess == pytest.approx(s.excess, rel=0.10)
    # the stated error is honest: the truth lies within 3 sigma
    assert abs(res.excess - s.excess) < 3 * res.error
    assert res.position == pytest.approx(0.45 * s.box[2], abs=0.3)
    assert res.fraction_left == pytest.approx(s.matrix_composition["P"], abs=5e-4)


def test_no_interface_gives_no_excess():
    s = synthetic_specimen(200_000, seed=4, aspect=(3, 3, 1), interface=False,
                           number_density=0)
    u = np.array([0, 0, 1.0])
    length = 0.9 * s.box[2]
    radius = 0.4 * min(s.box[:2])
    start = np.array([s.box[0] / 2, s.box[1] / 2, 0.05 * s.box[2]])
    idx, t = cylinder_coordinates(s.xyz, start, u * length, radius)
    res = interfacial_excess(t, s.species[idx] == s.species_index("P"),
                             area=np.pi * radius**2, efficiency=0.5, position=length / 2)
    assert abs(res.excess) < 3 * res.error + 0.05


def test_ladder_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    _, res = measure(0, n=100_000, number_density=0)
    ax = res.plot()
    ax.figure.savefig(tmp_path / "ladder.png")
    assert (tmp_path / "ladder.png").stat().st_size > 1000


@settings(max_examples=40, deadline=None)
@given(
    area=st.floats(-10, 0) | st.just(float("nan")),
    eff=st.floats(1.001, 3) | st.floats(-1, 0),
    n=st.integers(0, 30),
)
def test_bad_inputs_name_the_argument(area, eff, n):
    d = np.linspace(0, 10, max(n, 1))
    s = np.zeros(len(d), bool)
    s[::3] = True
    with pytest.raises(ExcessError, match="area"):
        interfacial_excess(d, s, area=area)
    with pytest.raises(ExcessError, match="efficiency"):
        interfacial_excess(d, s, area=1.0, efficiency=eff)
    with pytest.raises(ExcessError, match="solute"):
        interfacial_excess(d, s.astype(int), area=1.0)
    with pytest.raises(ExcessError, match="same length"):
        interfacial_excess(d, s[:-1], area=1.0)
