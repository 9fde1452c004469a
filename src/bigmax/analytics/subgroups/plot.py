"""Pictures of subgroups: each one's target distribution against the whole population, and a
two-selector rule as a box in the plane of its features. Matplotlib without pyplot, so any
backend (or none) works and nothing global changes."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bigmax.analytics.subgroups.selectors import SubgroupInputError

__all__ = ["plot_rule_2d", "plot_subgroups"]


def plot_subgroups(model, max_subgroups: int = 4, bins: int = 40) -> Figure:
    """One panel per subgroup: target histogram of the subgroup over that of all samples.

    ``model`` is a fitted :class:`~bigmax.analytics.subgroups.SubgroupDiscovery`.
    """
    table = model.subgroups_
    n = min(max_subgroups, len(table))
    if n == 0:
        raise SubgroupInputError("no subgroup to plot")
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(5.2 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for j in range(n):
        ax = axes[j]
        label = table["target"].iloc[j]
        y = model.target_values_[label]
        inside = model.membership_[:, j]
        edges = np.histogram_bin_edges(y, bins=bins)
        ax.hist(y, bins=edges, density=True, color="0.8", label=f"all ({len(y)})")
        ax.hist(y[inside], bins=edges, density=True, histtype="step", linewidth=1.8,
                color="C0", label=f"subgroup ({int(inside.sum())})")
        ax.axvline(np.median(y), color="0.4", linestyle="--", linewidth=1)
        ax.axvline(np.median(y[inside]), color="C0", linestyle="--", linewidth=1)
        rule = "\n".join(textwrap.wrap(str(table["rule"].iloc[j]), 60))
        ax.set_title(f"#{j + 1} {rule}\nquality {table['quality'].iloc[j]:.4g}", fontsize=9)
        ax.set_xlabel(str(label))
        ax.set_ylabel("density")
        ax.legend(fontsize=8, frameon=False)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def plot_rule_2d(
    model, X: pd.DataFrame, index: int = 0, color=None, color_label: str = ""
) -> Figure:
    """Scatter of the samples in the plane of a rule's two features, with the rule's box.

    ``color`` (per sample) colours the points, e.g. the target; by default they are coloured
    by membership.
    """
    rule = model.rules_[index]
    names = []
    for sel in rule:
        if sel.op == "==":
            raise SubgroupInputError(f"rule {rule} has a categorical selector; no 2-D picture")
        if sel.column not in names:
            names.append(sel.column)
    if len(names) != 2:
        raise SubgroupInputError(f"rule {rule} uses {len(names)} features, not 2")
    x = X[names[0]].to_numpy(dtype=np.float64)
    y = X[names[1]].to_numpy(dtype=np.float64)
    fig = Figure(figsize=(5.6, 4.6), layout="constrained")
    ax = fig.subplots()
    inside = rule.covers(X)
    c = inside.astype(float) if color is None else np.asarray(color, dtype=float)
    sc = ax.scatter(x, y, c=c, cmap="coolwarm", s=28, edgecolors="k", linewidths=0.4)
    if color is not None:
        fig.colorbar(sc, ax=ax, label=color_label)
    box = {names[0]: [np.nanmin(x), np.nanmax(x)], names[1]: [np.nanmin(y), np.nanmax(y)]}
    pad = {k: 0.05 * (v[1] - v[0] or 1.0) for k, v in box.items()}
    lims = {k: [v[0] - pad[k], v[1] + pad[k]] for k, v in box.items()}
    region = {k: list(v) for k, v in lims.items()}
    for sel in rule:
        lo, hi = region[sel.column]
        if sel.op == "<=":
            region[sel.column] = [lo, min(hi, float(sel.value))]
        elif sel.op == ">=":
            region[sel.column] = [max(lo, float(sel.value)), hi]
        else:
            region[sel.column] = [max(lo, sel.value[0]), min(hi, sel.value[1])]
    (x0, x1), (y0, y1) = region[names[0]], region[names[1]]
    ax.fill([x0, x1, x1, x0], [y0, y0, y1, y1], color="C2", alpha=0.15, zorder=0)
    ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="C2", linewidth=1.5)
    ax.set_xlim(lims[names[0]])
    ax.set_ylim(lims[names[1]])
    ax.set_xlabel(str(names[0]))
    ax.set_ylabel(str(names[1]))
    ax.set_title(f"{rule}\n{int(inside.sum())} of {len(inside)} samples", fontsize=9)
    return fig
