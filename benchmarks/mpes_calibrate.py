"""MPES calibrations, side by side with sed-processor on the same files.

Two steps that a user runs for every beamtime:

* momentum: landmarks -> the per-event distortion-correction field. Ours evaluates one
  thin-plate spline on the grid (forward map, no inversion). sed warps the image with a spline
  (``spline_warp_estimate``) and then inverts the field on the detector by scattered-data
  interpolation (``generate_inverse_dfield``).
* energy: a bias series -> TOF-to-eV (sed's ``calibrator/{traces,tof,biases}.csv``, the same
  feature window and reference). Both fitted curves are also compared point by point.

    .venv/bin/python benchmarks/mpes_calibrate.py --peer-python /work/peer-venvs/sed/bin/python

sed runs in its own interpreter (a subprocess). Times are the best of ``--repeat`` runs, wall
clock, one thread.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CAL = ROOT / "tests" / "data" / "mpes" / "sed" / "tests" / "data" / "calibrator"
# the feature points that sed's tests and example config use for this image ((row, col) of
# sed's 512 x 512 image, which bins detector pixels -256..1792 in steps of 4)
FEATURES = [[203.2, 341.96], [299.16, 345.32], [350.25, 243.70], [304.38, 149.88],
            [199.52, 152.48], [154.28, 242.27], [248.29, 248.62]]
RANGES = (66100.0, 67000.0)
REF_ID = 5
REF_ENERGY = -0.5
BINNING = 4

PEER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
from sed.core.config import parse_config
from sed.calibrator.momentum import MomentumCorrector, generate_inverse_dfield
from sed.calibrator.energy import EnergyCalibrator
from sed.loader.loader_interface import get_loader

cal, features, ranges, ref_id, ref_energy, binning, repeat = json.loads(sys.argv[1])
image = np.loadtxt(cal + "/momentum_map.csv", delimiter=",").T
cfg = parse_config(config={"dataframe": {"tof_binning": binning}}, folder_config={},
                   user_config={}, system_config={}, verbose=False)
out = {}
best = []
for _ in range(repeat):
    t = time.perf_counter()
    mc = MomentumCorrector(config=cfg, verbose=False)
    mc.load_data(data=image, bin_ranges=[(-256, 1792), (-256, 1792)])
    mc.add_features(features=np.array(features), rotsym=6)
    mc.spline_warp_estimate(use_center=True)
    t1 = time.perf_counter()
    inv = generate_inverse_dfield(mc.rdeform_field, mc.cdeform_field,
                                  [(-256, 1792), (-256, 1792)], [(0, 2048), (0, 2048)])
    best.append((t1 - t, time.perf_counter() - t1))
out["spline_s"] = min(b[0] for b in best)
out["inverse_s"] = min(b[1] for b in best)
out["field_shape"] = list(np.shape(inv))

traces = np.loadtxt(cal + "/traces.csv", delimiter=",").T
tof = np.loadtxt(cal + "/tof.csv", delimiter=",")
biases = np.loadtxt(cal + "/biases.csv", delimiter=",")
times = []
for _ in range(repeat):
    t = time.perf_counter()
    ec = EnergyCalibrator(config=cfg, loader=get_loader("mpes", config=cfg), verbose=False)
    ec.load_data(biases=biases, traces=traces, tof=tof)
    ec.normalize()
    ec.add_ranges(ranges=tuple(ranges), ref_id=ref_id)
    ec.feature_extract()
    res = ec.calibrate(ref_energy=ref_energy, method="lmfit", energy_scale="kinetic")
    times.append(time.perf_counter() - t)
out["energy_s"] = min(times)
out["d"], out["t0"], out["E0"] = float(res["d"]), float(res["t0"]), float(res["E0"])
out["peaks"] = np.asarray(ec.peaks)[:, 0].tolist()
print("RESULT" + json.dumps(out))
"""


def ours(repeat: int) -> dict:
    from bigmax.techniques.mpes.calibrate.energy import EnergyCalibrator
    from bigmax.techniques.mpes.calibrate.momentum import MomentumCorrector

    landmarks = -256.0 + 4.0 * np.array(FEATURES)
    out: dict = {}
    for name, shape, origin, step in (("field512_s", (512, 512), (-256, -256), (4, 4)),
                                      ("field2048_s", (2048, 2048), (0, 0), (1, 1))):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            mc = MomentumCorrector(landmarks=landmarks).fit_grid(shape, origin, step)
            times.append(time.perf_counter() - t)
        out[name] = min(times)
    out["symmetry_residual_px"] = -mc.score()
    traces = np.loadtxt(CAL / "traces.csv", delimiter=",").T
    tof = np.loadtxt(CAL / "tof.csv", delimiter=",")
    biases = np.loadtxt(CAL / "biases.csv", delimiter=",")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        ec = EnergyCalibrator(ref_id=REF_ID, ranges=RANGES, ref_energy=REF_ENERGY,
                              binning=BINNING).fit(traces, tof, biases)
        times.append(time.perf_counter() - t)
    out["energy_s"] = min(times)
    out["d"], out["t0"], out["E0"] = ec.d_, ec.t0_, ec.e0_
    out["peaks"] = ec.peaks_.tolist()
    out["residual_bins"] = float(np.abs(ec.residuals_tof_).max() / (tof[1] - tof[0]))
    out["_calibrator"] = ec
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer-python", default="/work/peer-venvs/sed/bin/python")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    me = ours(args.repeat)
    payload = json.dumps([str(CAL), FEATURES, RANGES, REF_ID, REF_ENERGY, BINNING, args.repeat])
    peer = None
    try:
        proc = subprocess.run([args.peer_python, "-c", PEER, payload], capture_output=True,
                              text=True, timeout=900, env={"OMP_NUM_THREADS": "1",
                                                           "PATH": "/usr/bin:/bin"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), None)
        if line is None:
            print("sed failed:", proc.stderr[-2000:], file=sys.stderr)
        else:
            peer = json.loads(line[6:])
    except (OSError, subprocess.TimeoutExpired) as err:
        print(f"sed could not run: {err}", file=sys.stderr)

    print(f"momentum field from 7 landmarks (sed's features of momentum_map.csv), best of "
          f"{args.repeat}")
    print(f"  bigmax  512x512 grid (step 4): {me['field512_s']:.3f} s; 2048x2048 (step 1): "
          f"{me['field2048_s']:.3f} s; symmetry residual {me['symmetry_residual_px']:.1e} px")
    if peer:
        sed_total = peer["spline_s"] + peer["inverse_s"]
        print(f"  sed     spline warp {peer['spline_s']:.3f} s + inverse dfield "
              f"{peer['inverse_s']:.3f} s = {sed_total:.3f} s (field {peer['field_shape']})")
        print(f"  ratio   sed / bigmax (2048^2): {sed_total / me['field2048_s']:.1f}x")
    print("energy calibration from the bias series (11 traces, ref 5, window 66100-67000)")
    print(f"  bigmax  {me['energy_s']:.3f} s: d = {me['d']:.5g} m, t0 = {me['t0']:.5g} s, "
          f"E0 = {me['E0']:.5g} eV, largest residual {me['residual_bins']:.2f} TOF bins")
    if peer:
        print(f"  sed     {peer['energy_s']:.3f} s: d = {peer['d']:.5g} m, t0 = {peer['t0']:.5g} "
              f"s, E0 = {peer['E0']:.5g} eV")
        print(f"  ratio   sed / bigmax time: {peer['energy_s'] / me['energy_s']:.1f}x")
        ec = me["_calibrator"]
        tof = np.loadtxt(CAL / "tof.csv", delimiter=",")
        t = tof[(tof > min(me["peaks"])) & (tof < max(me["peaks"]))]
        from bigmax.techniques.mpes.calibrate.energy import EnergyCalibrator
        from bigmax.techniques.mpes.transforms import ME_OVER_2E

        sed_e = ME_OVER_2E * (peer["d"] / (t * 4.125e-12 * BINNING - peer["t0"])) ** 2
        sed_e = sed_e + peer["E0"]
        diff = ec.predict(t) - sed_e
        dpk = np.max(np.abs(np.subtract(me["peaks"], peer["peaks"])))
        print(f"  peaks   largest difference bigmax - sed {dpk:.1f} TOF steps")
        same = EnergyCalibrator(ref_id=REF_ID, ranges=RANGES, ref_energy=REF_ENERGY,
                                binning=BINNING).fit_peaks(peer["peaks"], ec.biases_)
        print(f"  bigmax's fit on sed's peaks: d = {same.d_:.5g} m, t0 = {same.t0_:.5g} s "
              f"(sed: {peer['d']:.5g}, {peer['t0']:.5g}); largest residual "
              f"{np.abs(same.residuals_tof_).max() / (tof[1] - tof[0]):.2f} TOF bins")
        print(f"  curves  over the features' TOF range, bigmax - sed: offset "
              f"{np.mean(diff):+.3f} eV, spread {np.ptp(diff):.3f} eV "
              "(sed's E0 also holds the reference trace's bias)")


if __name__ == "__main__":
    main()
