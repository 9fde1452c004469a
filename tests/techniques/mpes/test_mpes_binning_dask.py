"""Scale-out: dask schedulers and a 2-worker LocalCluster give the single-process cube."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bigmax.techniques.mpes.binning import Axis, bin_events
from bigmax.techniques.mpes.transforms import Jitter, MomentumCalibration, Pipeline

METIS = Path(__file__).parents[2] / "data/mpes/sed/tests/data/loader/mpes/Scan0030_2.h5"

PIPE = Pipeline(steps=[
    Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5}, seed=11),
    MomentumCalibration(x_center=700, y_center=720, kx_scale=0.003, ky_scale=0.003, rotation=5),
])
AXES = [Axis("kx", 64, (-2.2, 2.2)), Axis("ky", 64, (-2.2, 2.2)), Axis("t", 50, (1.3e5, 2.8e5))]


def _files(tmp_path: Path) -> list[Path]:
    out = []
    for i in range(3):  # three copies: file_index keys the jitter, so copies differ
        p = tmp_path / f"Scan0030_{i}.h5"
        shutil.copy(METIS, p)
        out.append(p)
    return out


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_dask_schedulers_equal_local(tmp_path, monkeypatch, scheduler):
    from bigmax.techniques.mpes.events import open_events

    src = open_events(_files(tmp_path))
    local = bin_events(src, AXES, PIPE, chunk_events=100000)
    monkeypatch.setenv("BIGMAX_DASK_SCHEDULER", scheduler)
    got = bin_events(src, AXES, PIPE, chunk_events=60000)
    np.testing.assert_array_equal(got.values, local.values)
    assert got.dtype == local.dtype == np.uint32
    assert scheduler in got.attrs["provenance"]


def test_dask_in_memory_source_with_weights():
    rng = np.random.default_rng(4)
    d = {"X": rng.integers(0, 1400, 50000).astype(np.uint16),
         "Y": rng.integers(0, 1400, 50000).astype(np.uint16),
         "t": rng.integers(130000, 280000, 50000).astype(np.uint32),
         "w": rng.uniform(0, 1, 50000)}
    local = bin_events(d, AXES, PIPE, weights="w")
    got = bin_events(d, AXES, PIPE, weights="w", scheduler="threads", chunk_events=5000)
    np.testing.assert_allclose(got.values, local.values, rtol=1e-12)


@pytest.mark.slow
def test_local_cluster_bit_for_bit(tmp_path):
    distributed = pytest.importorskip("distributed")
    from bigmax.techniques.mpes.events import open_events

    src = open_events(_files(tmp_path))
    local = bin_events(src, AXES, PIPE, chunk_events=50000, n_threads=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            got = bin_events(src, AXES, PIPE, chunk_events=40000, scheduler=client)
            by_address = bin_events(src, AXES, PIPE, chunk_events=70000,
                                    scheduler=cluster.scheduler_address)
    assert got.dtype == local.dtype
    np.testing.assert_array_equal(got.values, local.values)
    np.testing.assert_array_equal(by_address.values, local.values)
    assert int(local.sum()) > 0.5 * 3 * 297398
