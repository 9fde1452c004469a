"""Pictures of a band-structure cube: kx-ky slices, E-k cuts with fitted bands, delay traces.

Each function draws on a matplotlib Axes (made if not given) and returns it, so the CLI and a
notebook compose them the same way; :func:`overview` puts any number of them on one figure.
Dimensions other than the ones drawn are summed, so a 4D (kx, ky, energy, delay) cube gives
delay-integrated slices and cuts and k-integrated traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bigmax.techniques.mpes.bands import BandFitError, fit_edcs, path_cut

__all__ = ["PlotError", "overview", "plot_cut", "plot_slice", "plot_trace"]


class PlotError(ValueError):
    """A plot request the cube cannot serve (names the dimension or the value)."""


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 4.2))[1]


def _need(cube, *dims: str) -> None:
    for d in dims:
        if d not in cube.dims:
            raise PlotError(f"the cube has no dimension {d!r} (it has {list(cube.dims)})")


def _label(cube, dim: str) -> str:
    units = cube[dim].attrs.get("units", "")
    return f"{dim} ({units})" if units else dim


def _window(cube, dim: str, lo: float, hi: float):
    c = cube[dim].values
    sel = cube.sel({dim: slice(lo, hi)})
    if sel.sizes[dim] == 0:  # narrower than a bin: the nearest bin
        i = int(np.argmin(np.abs(c - 0.5 * (lo + hi))))
        sel = cube.isel({dim: slice(i, i + 1)})
    if not (c.min() - 1e-9 <= 0.5 * (lo + hi) <= c.max() + 1e-9):
        raise PlotError(f"{dim} = {0.5 * (lo + hi):g} is outside the cube's {dim} range "
                        f"[{c.min():g}, {c.max():g}]")
    return sel


def _plane(cube, energy_dim: str) -> tuple[str, str]:
    """kx, ky if the cube has them, else its first two other dimensions (e.g. detector X, Y)."""
    if "kx" in cube.dims and "ky" in cube.dims:
        return "kx", "ky"
    rest = [d for d in cube.dims if d not in (energy_dim, "delay")]
    if len(rest) < 2:
        raise PlotError(f"a slice needs two dimensions besides {energy_dim!r}, the cube has "
                        f"{list(cube.dims)}")
    return rest[0], rest[1]


def plot_slice(cube, energy: float, *, width: float = 0.1, energy_dim: str = "energy",
               kx: str | None = None, ky: str | None = None, ax=None, cmap: str = "magma"):
    """The kx-ky map of the counts within ``energy +- width/2`` (other dimensions summed).
    Without kx and ky dimensions the first two others are drawn (a detector X-Y image)."""
    if kx is None or ky is None:
        _need(cube, energy_dim)
        kx, ky = _plane(cube, energy_dim)
    _need(cube, energy_dim, kx, ky)
    sub = _window(cube, energy_dim, energy - width / 2, energy + width / 2)
    img = sub.sum([d for d in sub.dims if d not in (kx, ky)]).transpose(ky, kx)
    ax = _axes(ax)
    x, y = img[kx].values, img[ky].values
    ax.pcolormesh(x, y, img.values, cmap=cmap, shading="nearest")
    ax.set_aspect("equal")
    ax.set_xlabel(_label(cube, kx))
    ax.set_ylabel(_label(cube, ky))
    ax.set_title(f"{energy_dim} = {energy:g} ± {width / 2:g}")
    return ax


def plot_cut(cube, path: str | Sequence, *, points: Mapping[str, tuple[float, float]] | None = None,
             bands=None, n_peaks: int = 0, energy_dim: str = "energy",
             energy_range: tuple[float, float] | None = None, truth=None, ax=None,
             cmap: str = "Greys"):
    """The E-k cut along ``path`` (e.g. ``"G-K-M-G"``), with fitted band positions on top.

    ``n_peaks > 0`` fits the cut's EDCs (:func:`fit_edcs`) and overlays the peak positions
    with their errors; ``bands`` overlays a fit made elsewhere (a Dataset over ``k``).
    ``truth`` (a :class:`SyntheticTruth`) draws the planted bands as lines.
    """
    _need(cube, energy_dim)
    try:
        cut = path_cut(cube, path, points=points)
    except BandFitError as err:
        raise PlotError(str(err)) from None
    cut = cut.sum([d for d in cut.dims if d not in ("k", energy_dim)])
    ax = _axes(ax)
    k, e = cut.k.values, cut[energy_dim].values
    ax.pcolormesh(k, e, cut.transpose(energy_dim, "k").values, cmap=cmap, shading="nearest")
    if n_peaks > 0 and bands is None:
        bands = fit_edcs(cut, n_peaks, energy=energy_dim, energy_range=energy_range)
    if bands is not None:
        pos = bands.position.transpose("k", "peak").values
        err = bands.position_err.transpose("k", "peak").values
        kk = np.repeat(bands.k.values[:, None], pos.shape[1], axis=1)
        ok = np.isfinite(pos) & (err < 0.2)
        ax.errorbar(kk[ok], pos[ok], yerr=err[ok], fmt="o", ms=2.5, color="tab:orange",
                    elinewidth=0.8, label="fitted peaks")
    if truth is not None:
        labels = [p for p in (path.split("-") if isinstance(path, str) else [])]
        pts = points or truth.high_symmetry_points
        s = cut.attrs["label_positions"]
        xy = np.array([pts[p] for p in labels]) if labels else np.asarray(path, float)
        kx = np.interp(k, s, xy[:, 0])
        ky = np.interp(k, s, xy[:, 1])
        for i, band in enumerate(truth.band_energies(kx, ky)):
            ax.plot(k, band, color="tab:cyan", lw=0.9, ls="--",
                    label="planted bands" if i == 0 else None)
    for pos_ in cut.attrs["label_positions"]:
        ax.axvline(pos_, color="0.6", lw=0.6)
    ax.set_xticks(cut.attrs["label_positions"])
    ax.set_xticklabels(cut.attrs["labels"])
    ax.set_xlim(k[0], k[-1])
    ax.set_ylim(e[0], e[-1])
    ax.set_ylabel(_label(cube, energy_dim))
    if bands is not None or truth is not None:
        ax.legend(loc="lower right", fontsize=7)
    return ax


def plot_trace(cube, region: Mapping[str, tuple[float, float]] | None = None, *,
               delay_dim: str = "delay", normalise: bool = False, ax=None,
               label: str | None = None):
    """Counts in a region (``{"energy": (0.5, 1.5), "kx": (1.0, 1.5)}``) against delay."""
    _need(cube, delay_dim)
    sub = cube
    for dim, (lo, hi) in (region or {}).items():
        _need(cube, dim)
        if not lo < hi:
            raise PlotError(f"trace region {dim}: needs lo < hi, got ({lo}, {hi})")
        sub = sub.sel({dim: slice(lo, hi)})
        if sub.sizes[dim] == 0:
            raise PlotError(f"trace region {dim} = ({lo}, {hi}) holds no bin of the cube")
    trace = sub.sum([d for d in sub.dims if d != delay_dim]).astype(float)
    y = trace.values
    if normalise and y.max() > 0:
        y = y / y.max()
    ax = _axes(ax)
    text = label or ", ".join(f"{d} {lo:g}..{hi:g}" for d, (lo, hi) in (region or {}).items())
    ax.plot(trace[delay_dim].values, y, "o-", ms=3, label=text or "all")
    ax.set_xlabel(_label(cube, delay_dim))
    ax.set_ylabel("counts (normalised)" if normalise else "counts")
    ax.legend(fontsize=7)
    return ax


def overview(cube, *, slices: Sequence[float | tuple[str, float]] = (),
             cut: str | Sequence | None = None,
             traces: Sequence[Mapping[str, tuple[float, float]]] = (),
             points: Mapping[str, tuple[float, float]] | None = None, n_peaks: int = 0,
             energy_range: tuple[float, float] | None = None, width: float = 0.1,
             truth: Any = None, out=None, dpi: int = 120):
    """One figure with a panel per slice, the cut and one panel of delay traces; saved to
    ``out`` (PNG) when given. Returns the figure.

    A slice is an energy, or ``(dimension, value)`` to slice along another dimension (the
    TOF axis ``t`` of an uncalibrated cube)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(slices) + (cut is not None) + (len(traces) > 0)
    if n == 0:
        raise PlotError("nothing to plot: give at least one slice, a cut or a trace")
    fig, axs = plt.subplots(1, n, figsize=(4.6 * n, 4.2), squeeze=False)
    axs = list(axs[0])
    for e in slices:
        dim, value = e if isinstance(e, tuple) else ("energy", e)
        plot_slice(cube, value, width=width, energy_dim=dim, ax=axs.pop(0))
    if cut is not None:
        plot_cut(cube, cut, points=points, n_peaks=n_peaks, energy_range=energy_range,
                 truth=truth, ax=axs.pop(0))
    if traces:
        ax = axs.pop(0)
        for region in traces:
            plot_trace(cube, region, ax=ax, normalise=len(traces) > 1)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out, dpi=dpi)
        plt.close(fig)
    return fig
