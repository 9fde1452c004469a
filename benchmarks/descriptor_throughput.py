"""Descriptor throughput: structures/s for SOAP and MBTR, BigMax's transformers vs dscribe.

Usage: python benchmarks/descriptor_throughput.py [--data DIR] [--n 1000] [--jobs 1 2]
       [--rounds 1] [--only soap mbtr]

The structures are the first ``--n`` NOMAD 2018 training cells (Sutton et al., npj Comput Mater
5, 111 (2019)): bulk (Al,Ga,In)2O3, 10 to 80 atoms, read from ../shared at benchmark time, or
from the packaged demo copy when that folder is missing.

Ours: ``SOAPDescriptor`` / ``MBTRDescriptor`` ``fit`` + ``transform`` (input checks, species
learned, joblib chunks). Peer: dscribe's own ``create`` on the same list with the same
settings and ``n_jobs``. dscribe 2.1.2's MBTR cannot run at all with ASE >= 3.27, so for the
peer too the compatibility shim (``bigmax.analytics.descriptors._dscribe_compat``) is applied
first; it changes no arithmetic. Rounds alternate ours and the peer; the median is printed.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/structures/nomad2018"
SPECIES = ["O", "Al", "Ga", "In"]
SOAP_KW = {"r_cut": 5.0, "n_max": 8, "l_max": 6, "sigma": 1.0, "average": "inner"}
MBTR_GRID = {"min": 0.0, "max": 1.0, "n": 100, "sigma": 0.02}
MBTR_WEIGHT = {"function": "exp", "scale": 1.0, "threshold": 1e-3}


def load(data: Path, n: int) -> tuple[list, str]:
    """The first ``n`` training structures and where they came from."""
    from ase.io import read

    if (data / "train.csv").is_file():
        ids = [line.split(",")[0] for line in (data / "train.csv").read_text().splitlines()[1:]]
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ASE's FHI-aims reader warns on every call
            for rid in ids[:n]:
                out.append(read(data / "train" / rid / "geometry.xyz", format="aims"))
        return out, str(data)
    from bigmax.demo import nomad2018_frames

    return read(io.StringIO(nomad2018_frames(0, n)), index=":", format="extxyz"), "demo copy"


def ours(name: str, structures: list, jobs: int) -> np.ndarray:
    from bigmax.analytics.descriptors import MBTRDescriptor, SOAPDescriptor

    if name == "soap":
        d = SOAPDescriptor(**SOAP_KW, species=SPECIES, n_jobs=jobs)
    else:
        d = MBTRDescriptor(
            geometry="inverse_distance",
            grid_min=MBTR_GRID["min"],
            grid_max=MBTR_GRID["max"],
            n_grid=MBTR_GRID["n"],
            sigma=MBTR_GRID["sigma"],
            weighting="exp",
            scale=MBTR_WEIGHT["scale"],
            threshold=MBTR_WEIGHT["threshold"],
            normalization="l2",
            species=SPECIES,
            n_jobs=jobs,
        )
    return d.fit(structures).transform(structures)


def peer(name: str, structures: list, jobs: int) -> np.ndarray:
    from dscribe.descriptors import MBTR, SOAP

    if name == "soap":
        d = SOAP(species=SPECIES, periodic=True, **SOAP_KW)
    else:
        d = MBTR(
            geometry={"function": "inverse_distance"},
            grid=MBTR_GRID,
            weighting=MBTR_WEIGHT,
            normalization="l2",
            species=SPECIES,
            periodic=True,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return d.create(structures, n_jobs=jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", nargs="+", default=["soap", "mbtr"], choices=["soap", "mbtr"])
    args = parser.parse_args()

    from bigmax.analytics.descriptors._dscribe_compat import ensure_dscribe_compat

    shim = ensure_dscribe_compat()
    structures, source = load(args.data, args.n)
    sizes = np.array([len(a) for a in structures])
    print(
        f"{len(structures)} structures from {source}: {sizes.min()}-{sizes.max()} atoms "
        f"(median {int(np.median(sizes))}, {sizes.sum()} in all); nproc {os.cpu_count()}; "
        f"dscribe MBTR shim applied: {shim}"
    )
    print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    # warm-up: numba compilation of the input checks, imports, loky workers
    for name in args.only:
        for jobs in args.jobs:
            ours(name, structures[:4], jobs)
            peer(name, structures[:4], jobs)
    header = f"{'descriptor':<10} {'n_jobs':>6} {'ours (struct/s)':>16} {'dscribe (struct/s)':>19}"
    print(header + f" {'ratio':>6}  features")
    for name in args.only:
        for jobs in args.jobs:
            t_ours, t_peer = [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                a = ours(name, structures, jobs)
                t_ours.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                b = peer(name, structures, jobs)
                t_peer.append(time.perf_counter() - t0)
            b = np.nan_to_num(np.asarray(b))
            assert a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-10), name
            r_ours = len(structures) / statistics.median(t_ours)
            r_peer = len(structures) / statistics.median(t_peer)
            print(
                f"{name:<10} {jobs:>6} {r_ours:>16.1f} {r_peer:>19.1f} {r_ours / r_peer:>6.2f}"
                f"  {a.shape[1]}",
                flush=True,
            )
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
