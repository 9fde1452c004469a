"""Crystal-structure recognition under noise: our classifier vs spglib, moyopy (and PTM).

Test set (issue 9): supercells of eight real crystals that are not the training prototypes
(other elements, lattice constants, c/a and u): fcc Ni, bcc Fe, hcp Ti, diamond Si, rocksalt MgO,
zincblende GaAs, wurtzite ZnO, cubic perovskite SrTiO3, 96-320 atoms. Noise as in ARISE: Gaussian
displacements sigma = delta x d_NN (0-10 %) and random vacancies (0-30 %), and both together.
A prediction is right when it names the structure's prototype among ARISE's 108 classes (the
perovskite may be either of ARISE's two cubic perovskites, 3_cubic and 3_halides_cubic).
"ours" is the answer, with "unknown" (uncertainty above the calibrated threshold) counted
wrong; "ours (label)" is the most probable class (forced choice). Symmetry finders answer
"unknown" when no prototype has their signature; that is counted wrong too. PTM (OVITO, if
importable) is scored on the four lattices it knows (fcc, bcc, hcp, diamond) by majority over
the atoms it identifies.

Then ARISE's own test: all 108 prototypes, noisy copies of their supercells.

    .venv/bin/python benchmarks/recognition_accuracy.py [--trials 10] [--jobs 2]

Writes benchmarks/results/recognition_accuracy.csv, recognition_accuracy_108.csv and
docs/img/recognition_accuracy.png; prints the tables and the headline ratio vs spglib.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.build import bulk

from bigmax.analytics.recognition import (
    COMMON_PROTOTYPES,
    SymmetryBaseline,
    load_or_train,
    load_prototypes,
    noisy_copies,
    supercell,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
IMG = ROOT / "docs" / "img"

DISPLACEMENTS = [0.0, 0.001, 0.002, 0.006, 0.01, 0.02, 0.04, 0.07, 0.10]
VACANCIES = [0.01, 0.02, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30]
COMBINED = [(0.01, 0.001), (0.02, 0.002), (0.05, 0.006), (0.10, 0.01), (0.15, 0.02),
            (0.20, 0.04), (0.25, 0.07), (0.30, 0.10)]  # (vacancies, displacement), ARISE's pairs


def perovskite(a: float = 3.905) -> Atoms:
    """Cubic SrTiO3 (Pm-3m): Sr at the corner, Ti at the body centre, O at the face centres."""
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Atoms("SrTiO3", scaled_positions=frac, cell=[a, a, a], pbc=True)


def test_crystals() -> dict[str, Atoms]:
    return {
        "fcc": bulk("Ni", "fcc", a=3.52, cubic=True).repeat(3),
        "bcc": bulk("Fe", "bcc", a=2.87, cubic=True).repeat(4),
        "hcp": bulk("Ti", "hcp", a=2.95, c=4.68).repeat((4, 4, 3)),
        "diamond": bulk("Si", "diamond", a=5.43, cubic=True).repeat(3),
        "rocksalt": bulk("MgO", "rocksalt", a=4.21, cubic=True).repeat(3),
        "zincblende": bulk("GaAs", "zincblende", a=5.65, cubic=True).repeat(3),
        "wurtzite": bulk("ZnO", "wurtzite", a=3.25, c=5.21).repeat((4, 4, 3)),
        "perovskite": perovskite().repeat(4),
    }


ACCEPT = {name: {label} for name, label in COMMON_PROTOTYPES.items()}
ACCEPT["perovskite"] = {"3_cubic", "3_halides_cubic"}


def levels():
    for d in DISPLACEMENTS:
        yield f"displacement {d * 100:g}%", d, 0.0
    for v in VACANCIES:
        yield f"vacancies {v * 100:g}%", 0.0, v
    for v, d in COMBINED:
        yield f"vac {v * 100:g}% + disp {d * 100:g}%", d, v


def ptm_predict(structures: list[Atoms]) -> list[str] | None:
    """OVITO's polyhedral template matching, majority over identified atoms; None if absent."""
    try:
        from ovito.io.ase import ase_to_ovito
        from ovito.modifiers import PolyhedralTemplateMatchingModifier
        from ovito.pipeline import Pipeline, StaticSource
    except ImportError:
        return None
    T = PolyhedralTemplateMatchingModifier.Type
    names = {T.FCC: "fcc", T.BCC: "bcc", T.HCP: "hcp", T.CUBIC_DIAMOND: "diamond", T.SC: "sc"}
    out = []
    for atoms in structures:
        pipe = Pipeline(source=StaticSource(data=ase_to_ovito(atoms)))
        mod = PolyhedralTemplateMatchingModifier(rmsd_cutoff=0.1)
        for t in (T.SC, T.CUBIC_DIAMOND):
            mod.structures[t].enabled = True
        pipe.modifiers.append(mod)
        types = np.asarray(pipe.compute().particles.structure_types)
        known = types[types != T.OTHER]
        if not len(known):
            out.append("unknown")
            continue
        vals, counts = np.unique(known, return_counts=True)
        out.append(names.get(int(vals[counts.argmax()]), "unknown"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="noisy copies per crystal")
    parser.add_argument("--trials-108", type=int, default=2, help="copies per ARISE class")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".bigmax" / "models")
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = load_or_train(args.cache, n_jobs=args.jobs)
    print(f"model: 108 classes, {len(model.estimators_)} MLPs, threshold {model.threshold_:.4f}, "
          f"calibration {model.calibration_} ({time.perf_counter() - t0:.0f} s to load/train)")
    protos = load_prototypes()
    ideal = [p.atoms for p in protos]
    labels = [p.label for p in protos]
    # ARISE's two perovskites are slightly distorted (P4mm and R3m at 0.1 A), so a symmetry
    # finder would never match a cubic one to them: the baselines get an ideal cubic
    # perovskite as an extra reference. Our classifier does not: it learns from ARISE's only.
    ref, ref_labels = [*ideal, perovskite()], [*labels, "3_cubic"]
    methods = {
        "ours": model,
        "spglib 0.1 A": SymmetryBaseline("spglib", 0.1, 5.0).fit(ref, ref_labels),
        "spglib 1e-4 A": SymmetryBaseline("spglib", 1e-4, 1.0).fit(ref, ref_labels),
        "moyopy 0.1 A": SymmetryBaseline("moyopy", 0.1, 5.0).fit(ref, ref_labels),
        "moyopy 0.2 A": SymmetryBaseline("moyopy", 0.2, 5.0).fit(ref, ref_labels),
    }
    crystals = test_crystals()
    rows = []
    ptm_missing = False
    for k, (name_level, d, v) in enumerate(levels()):
        structures, truth = [], []
        for trial in range(args.trials):
            for i, (name, atoms) in enumerate(crystals.items()):
                structures += noisy_copies([atoms], d, v, random_state=(k, trial, i))
                truth.append(name)
        row = {"level": name_level, "displacement": d, "vacancies": v, "n": len(structures)}
        for mname, m in methods.items():
            t = time.perf_counter()
            if mname == "ours":
                res = model.recognize(structures)
                answers = res.answer.to_numpy()
                row["ours (label)"] = 100 * np.mean(
                    [a in ACCEPT[n] for a, n in zip(res.label, truth, strict=True)])
                row["ours unknown %"] = 100 * res.unknown.mean()
            else:
                answers = m.predict(structures)
            row[mname] = 100 * np.mean([a in ACCEPT[n] for a, n in zip(answers, truth,
                                                                         strict=True)])
            row[f"{mname} s"] = time.perf_counter() - t
        ptm = ptm_predict(structures)
        if ptm is None:
            ptm_missing = True
        else:  # PTM knows five lattices: score it on those only
            ok = [n in {"fcc", "bcc", "hcp", "diamond"} for n in truth]
            row["PTM (OVITO)"] = 100 * np.mean([p == n for p, n, o in zip(ptm, truth, ok,
                                                                          strict=True) if o])
        rows.append(row)
        print(f"{name_level:28s} " + "  ".join(
            f"{m}: {row[m]:5.1f}" for m in ["ours (label)", *methods, "PTM (OVITO)"]
            if m in row), flush=True)
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "recognition_accuracy.csv", index=False)
    if ptm_missing:
        print("PTM: ovito is not installed in this environment; no PTM column")

    # ARISE's own classes: every prototype, noisy supercells
    rows108 = []
    grid = [(0, 0), (0.01, 0), (0.02, 0), (0.04, 0), (0.07, 0), (0.10, 0), (0, 0.05),
            (0, 0.10), (0, 0.20), (0, 0.30), (0.04, 0.20)]
    bases = [supercell(p.atoms, 100, p.periodic_dims) for p in protos]
    for d, v in grid:
        structures, truth = [], []
        for trial in range(args.trials_108):
            structures += noisy_copies(bases, d, v, random_state=(991, trial, int(d * 1e4),
                                                                   int(v * 1e4)))
            truth += labels
        res = model.recognize(structures)
        right = res.label.to_numpy() == np.asarray(truth)
        spg = methods["spglib 0.1 A"].predict(structures) == np.asarray(truth)
        rows108.append({"displacement %": 100 * d, "vacancies %": 100 * v, "n": len(truth),
                        "ours (label)": 100 * right.mean(),
                        "ours (answer, unknown = wrong)": 100 * np.mean(
                            res.answer.to_numpy() == np.asarray(truth)),
                        "ours unknown %": 100 * res.unknown.mean(),
                        "spglib 0.1 A": 100 * spg.mean()})
        print(f"108 classes d={d:.2f} v={v:.2f}: ours {100 * right.mean():5.1f}  "
              f"spglib {100 * spg.mean():5.1f}", flush=True)
    table108 = pd.DataFrame(rows108)
    table108.to_csv(OUT / "recognition_accuracy_108.csv", index=False)

    cols = ["ours", "ours (label)", *[m for m in methods if m != "ours"]]
    if "PTM (OVITO)" in table:
        cols.append("PTM (OVITO)")
    print(f"\n8 crystals, % right (n per row = {8 * args.trials})")
    print(markdown(table[["level", *cols]]))
    print("\n108 ARISE classes, % right")
    print(markdown(table108))
    target = table[(table.displacement <= 0.04) & (table.vacancies <= 0.20)]
    spg = target["spglib 0.1 A"].mean()
    print(f"\nheadline, levels up to 4 % displacement and 20 % vacancies (goal >= 99 %): "
          f"ours worst {target['ours (label)'].min():.1f} % (label), "
          f"{target['ours'].min():.1f} % (answer, unknown counted wrong); mean ours "
          f"{target['ours'].mean():.1f} % vs spglib 0.1 A {spg:.1f} % "
          f"(ratio {target['ours'].mean() / max(spg, 1e-9):.1f}x)")
    plot(table, cols)
    print(f"total {time.perf_counter() - t0:.0f} s")


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub table (pandas' to_markdown needs tabulate, which we do not depend on)."""
    def cell(v):
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def plot(table: pd.DataFrame, cols: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    parts = [
        (table.vacancies == 0, "displacement", "displacement sigma / d_NN (%)"),
        ((table.displacement == 0) & (table.vacancies > 0), "vacancies", "vacancies (%)"),
        ((table.displacement > 0) & (table.vacancies > 0), "vacancies",
         "vacancies (%) with displacement (ARISE pairs)"),
    ]
    for ax, (mask, x, xlabel) in zip(axes, parts, strict=True):
        sub = table[mask]
        for c in cols:
            ax.plot(100 * sub[x], sub[c], marker="o", label=c)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("% right")
        ax.set_ylim(-3, 103)
        ax.axhline(99, color="grey", lw=0.6, ls="--")
    axes[0].set_xscale("symlog", linthresh=0.1)
    axes[0].set_xlim(0, 11)
    axes[0].legend(fontsize=8)
    fig.suptitle("8 crystals (fcc, bcc, hcp, diamond, rocksalt, zincblende, wurtzite, "
                 "perovskite) among 108 classes")
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / "recognition_accuracy.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
