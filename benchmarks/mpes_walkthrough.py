"""The pictures of docs/mpes.md, and the synthetic band-recovery figure with its numbers.

Run from the repository root (about a minute on 2 cores):

    .venv/bin/python benchmarks/mpes_walkthrough.py [--out docs/img] [--events 4000000]

1. The real METIS sample (Scan0030_2.h5): energy calibration from sed's bias series (the
   ``bigmax mpes calibrate energy`` fit, TOF binning 2 for raw METIS steps), binned to
   (X, Y, energy), written to NXmpes and read back; its EDC and detector images.
2. Synthetic WSe2-like events: momentum and energy calibrations fitted from the data (K-point
   landmarks + thin-plate spline + Gamma-K scale; a simulated bias series), binned to
   (kx, ky, energy, delay); slices, the G-K-M-G cut with fitted and planted bands, delay
   traces, and the error of every resolved fitted band against the planted one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bigmax.techniques.mpes.bands import fit_edcs, path_cut  # noqa: E402
from bigmax.techniques.mpes.binning import Axis, bin_events  # noqa: E402
from bigmax.techniques.mpes.calibrate.energy import EnergyCalibrator  # noqa: E402
from bigmax.techniques.mpes.calibrate.momentum import (  # noqa: E402
    MomentumCorrector,
    find_landmarks,
    gamma_k_distance,
    momentum_scale,
)
from bigmax.techniques.mpes.events import open_events  # noqa: E402
from bigmax.techniques.mpes.output import read_nxmpes, write_nxmpes  # noqa: E402
from bigmax.techniques.mpes.plots import plot_cut, plot_slice, plot_trace  # noqa: E402
from bigmax.techniques.mpes.synthetic import synthetic_events, truth_for  # noqa: E402
from bigmax.techniques.mpes.transforms import (  # noqa: E402
    DelayCalibration,
    EnergyCalibration,
    Jitter,
    Pipeline,
)

DATA = Path("tests/data/mpes/sed/tests/data")


def metis(out: Path) -> None:
    traces = np.loadtxt(DATA / "calibrator/traces.csv", delimiter=",")
    tof = np.loadtxt(DATA / "calibrator/tof.csv", delimiter=",")
    if traces.shape[0] == tof.size:  # sed's file has one column per bias
        traces = traces.T
    biases = np.loadtxt(DATA / "calibrator/biases.csv", delimiter=",")
    ec = EnergyCalibrator(ref_id=5, ranges=(66100, 67000), ref_energy=-0.5, binning=4)
    ec.fit(traces, tof, biases)
    # sed's traces count TOF in steps of 2 raw METIS steps: the same law with binning 2
    energy = EnergyCalibration(kind="tof_quadratic", d=ec.d_, t0=ec.t0_, e0=ec.e0_, binning=2)
    pipe = Pipeline(steps=(Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5}), energy))
    src = open_events(DATA / "loader/mpes/Scan0030_2.h5")
    cube = bin_events(src, [Axis("X", 150, (0, 1500)), Axis("Y", 150, (0, 1500)),
                            Axis("energy", 100, (-4.0, 1.0))], pipe)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_nxmpes(cube, Path(tmp) / "scan0030.nxs", source_files=[src.paths[0]],
                            calibration_provenance={"energy": {
                                "file": "sed tests/data/calibrator/traces.csv",
                                "fit": "tof_quadratic, ref_id 5, ranges 66100-67000"}})
        back = read_nxmpes(path)
    assert back.identical(cube)
    edc = cube.sum(["X", "Y"])
    print(f"METIS: {src.n_events} events, {int(cube.sum())} in the energy window; "
          f"d = {ec.d_:.4f} m, t0 = {ec.t0_:.4e} s, e0 = {ec.e0_:.3f} eV")
    fig, axs = plt.subplots(1, 3, figsize=(13.5, 4.2))
    axs[0].plot(edc.energy, edc.values, "k-")
    axs[0].set_xlabel("energy (eV)")
    axs[0].set_ylabel("counts")
    axs[0].set_title("Scan0030_2: energy distribution")
    for ax, e in zip(axs[1:], (-1.5, -3.0), strict=True):
        plot_slice(cube, e, width=0.5, kx="X", ky="Y", ax=ax)
        ax.set_title(f"detector image, energy {e:g} ± 0.25 eV")
    fig.tight_layout()
    fig.savefig(out / "mpes_metis.png", dpi=90)
    plt.close(fig)


def _landmarks(image, n: int) -> np.ndarray:
    a = image.values.astype(float)
    ii, jj = np.meshgrid(np.arange(a.shape[0]), np.arange(a.shape[1]), indexing="ij")
    out = []
    for p in find_landmarks(a, n, sigma=3.0):
        for _ in range(20):  # iterated centroid: a spot's top is a noisy plateau
            w = a * (np.hypot(ii - p[0], jj - p[1]) < 12)
            p = np.array([(w * ii).sum(), (w * jj).sum()]) / w.sum()
        out.append(p)
    out = np.array(out)
    x, y = image[image.dims[0]].values, image[image.dims[1]].values
    return np.column_stack([np.interp(out[:, 0], np.arange(x.size), x),
                            np.interp(out[:, 1], np.arange(y.size), y)])


def calibrate_synthetic(cols, truth):
    """Momentum and energy calibrations from the events alone (see the acceptance test)."""
    jit = Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5, "ADC": 0.5})
    tlo, thi = truth.tof_range
    spec = bin_events(cols, [Axis("t", 400, (tlo, thi))], Pipeline(steps=(jit,)))
    onset = float(spec.t[np.argmax(spec.values > 0.3 * spec.values.max())])
    img = bin_events(cols, [Axis("X", 256, (0, 2048)), Axis("Y", 256, (0, 2048)),
                            Axis("t", 1, (onset - 250, onset + 150))], Pipeline(steps=(jit,)))
    lms = _landmarks(img[..., 0], 6)
    mc = MomentumCorrector(symmetry=6, include_center=False, align=True, landmarks=lms)
    mc.fit(img[..., 0].values.astype(float), coords=(img.X.values, img.Y.values))
    dist = mc.to_transform(x_out="Xm", y_out="Ym")
    rel = mc.target_ - mc.center_
    vertex = mc.target_[np.argmin(np.abs(np.arctan2(rel[:, 1], rel[:, 0])))]
    mom = momentum_scale(mc.center_, vertex, gamma_k_distance(truth.lattice_constant))
    mom = mom.to_transform(x_column="Xm", y_column="Ym")
    biases = [-3.0, -1.5, 0.0, 1.5, 3.0]
    traces = []
    for j, bias in enumerate(biases):
        tb = replace(truth, tof_energy_offset=truth.tof_energy_offset - bias,
                     excitation_amplitude=0.0)
        ev, _ = synthetic_events(300_000, seed=100 + j, material=tb)
        h = bin_events(ev, [Axis("kx", 64, (-1.6, 1.6)), Axis("ky", 64, (-1.6, 1.6)),
                            Axis("t", 2000, (tlo - 12000, thi + 12000))],
                       Pipeline(steps=(jit, dist, mom)))
        kx, ky = np.meshgrid(h.kx.values, h.ky.values, indexing="ij")
        ang = np.arctan2(ky, kx)
        near = np.abs(np.hypot(kx, ky) - gamma_k_distance(truth.lattice_constant)) < 0.1
        near &= np.abs(((ang + np.pi / 6) % (np.pi / 3)) - np.pi / 6) < 0.08
        traces.append(h.values[near].sum(axis=0))
    traces = np.array(traces, float)
    tof = h.t.values
    first = tof[np.argmax(traces[2] > 0.3 * traces[2].max())]
    k0 = np.argmax(traces[2] * (tof < first + 400))
    ec = EnergyCalibrator(ref_id=2, ranges=(tof[k0] - 150, tof[k0] + 150),
                          ref_energy=truth.band_params["vbm_K"]).fit(traces, tof, biases)
    delay = DelayCalibration.from_adc_range(truth.adc_range, truth.delay_range)
    return Pipeline(steps=(jit, dist, mom, ec.to_transform(), delay)), lms


def synthetic(out: Path, n_events: int) -> dict:
    truth = truth_for("WSe2")
    t0 = time.perf_counter()
    cols, _ = synthetic_events(n_events, seed=11, material=truth)
    t_gen = time.perf_counter() - t0
    pipe, lms = calibrate_synthetic(cols, truth)
    cube = bin_events(cols, [Axis("kx", 80, (-1.6, 1.6)), Axis("ky", 80, (-1.6, 1.6)),
                             Axis("energy", 100, (-3.5, 1.5)), Axis("delay", 10, (-0.5, 2.0))],
                      pipe)
    pts = truth.high_symmetry_points
    fig, axs = plt.subplots(1, 4, figsize=(19, 4.3))
    plot_slice(cube, -0.85, ax=axs[0])
    plot_slice(cube, -1.5, ax=axs[1])
    plot_cut(cube, "G-K-M-G", points=pts, n_peaks=3, energy_range=(-3.5, 0.0), truth=truth,
             ax=axs[2])
    plot_trace(cube, {"energy": (0.5, 1.5)}, ax=axs[3], normalise=True,
               label="conduction band (0.5 to 1.5 eV)")
    plot_trace(cube, {"energy": (-1.0, -0.7)}, ax=axs[3], normalise=True,
               label="valence band top (-1.0 to -0.7 eV)")
    fig.tight_layout()
    fig.savefig(out / "mpes_synthetic.png", dpi=90)
    plt.close(fig)

    # recovery: every resolved fitted band against the planted one
    cut = path_cut(cube.sum("delay"), "G-K-M-G", points=pts)
    ds = fit_edcs(cut, 3, energy_range=(-3.5, 0.0))
    s = cut.attrs["label_positions"]
    corners = [pts[p] for p in ("G", "K", "M", "G")]
    kx = np.interp(cut.k.values, s, [p[0] for p in corners])
    ky = np.interp(cut.k.values, s, [p[1] for p in corners])
    planted = np.sort(truth.band_energies(kx, ky)[list(truth.occupied_bands)], axis=0)[::-1].T
    rows = []
    for i, bands in enumerate(planted):
        window = bands[(bands > -3.5) & (bands < 0.0)]
        if len(window) > 1 and np.min(-np.diff(window)) < 0.35:
            continue
        got = ds.position.values[i][np.isfinite(ds.position.values[i])]
        for e in bands[(bands > -3.2) & (bands < -0.2)]:
            j = int(np.argmin(np.abs(got - e))) if got.size else -1
            rows.append((cut.k.values[i], e, got[j] if j >= 0 else np.nan))
    rows = np.array(rows)
    err = rows[:, 2] - rows[:, 1]
    ebin = float(np.diff(cube.energy.values[:2])[0])
    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    axs[0].plot(rows[:, 0], rows[:, 1], "c_", ms=10, label="planted")
    axs[0].plot(rows[:, 0], rows[:, 2], "k.", ms=4, label="fitted (calibrated from the data)")
    axs[0].set_xticks(s)
    axs[0].set_xticklabels(cut.attrs["labels"])
    axs[0].set_ylabel("energy (eV)")
    axs[0].legend(fontsize=8)
    axs[1].plot(rows[:, 0], err * 1000, "k.")
    for y in (-ebin, ebin):
        axs[1].axhline(y * 1000, color="r", lw=0.8)
    axs[1].set_xticks(s)
    axs[1].set_xticklabels(cut.attrs["labels"])
    axs[1].set_ylabel("fitted - planted (meV); red: one energy bin")
    fig.tight_layout()
    fig.savefig(out / "mpes_recovery.png", dpi=90)
    plt.close(fig)
    found = np.array(lms)
    kk = truth.distort(*truth.k_to_pixel(pts["K"][0] * np.cos(np.arange(6) * np.pi / 3),
                                         pts["K"][0] * np.sin(np.arange(6) * np.pi / 3)))
    kk = np.column_stack(kk)
    lm_err = [float(np.min(np.hypot(*(kk - p).T))) for p in found]
    return {"events": n_events, "generate_s": round(t_gen, 2),
            "resolved_band_points": int(len(err)),
            "median_abs_err_eV": round(float(np.median(np.abs(err))), 4),
            "max_abs_err_eV": round(float(np.max(np.abs(err))), 4), "energy_bin_eV": ebin,
            "landmark_err_px_max": round(max(lm_err), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--events", type=int, default=4_000_000)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    metis(args.out)
    print(json.dumps(synthetic(args.out, args.events)))


if __name__ == "__main__":
    main()
