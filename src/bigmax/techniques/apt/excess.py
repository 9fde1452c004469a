"""Gibbsian interfacial excess by the cumulative (ladder) method of Krakauer and Seidman.

Ions in a ROI crossing the interface are ordered by their distance along the interface normal.
The ladder diagram plots the cumulative number of solute ions against the cumulative number of
all ions. Away from the interface each side is a straight line whose slope is that side's solute
fraction. The vertical jump between the two fitted lines, at the interface, is the number of
excess solute ions; divided by the detection efficiency and the interface area in the ROI, it is
the excess in atoms/nm^2:

    Gamma = N_excess / (eta * A)

(Krakauer & Seidman, Phys. Rev. B 48, 6724 (1993); Hellman et al., Interface Sci. 2003.)
Using cumulative total ions rather than distance as the abscissa makes the result independent of
the local density (and of the reconstruction's depth scaling).

Error: the jump is a difference of counts. Its variance is the Poisson variance of the solute
ions between the fit windows plus the variance of the two fitted slopes extrapolated to the
interface (binomial: c (1 - c) / N_side times the extrapolated ion count squared).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ExcessError", "ExcessResult", "interfacial_excess"]


class ExcessError(ValueError):
    """Bad excess input (names the argument)."""


@dataclass
class ExcessResult:
    """Excess (atoms/nm^2) with its error, and what is needed to draw the ladder diagram."""

    excess: float
    error: float
    n_excess: float
    position: float
    area: float
    efficiency: float
    fraction_left: float
    fraction_right: float
    fit_left: tuple[float, float]
    fit_right: tuple[float, float]
    windows: tuple[tuple[float, float], tuple[float, float]]
    cumulative_total: np.ndarray
    cumulative_solute: np.ndarray
    distance: np.ndarray

    def plot(self, ax=None):
        """Ladder diagram with the two fitted lines and the excess jump (matplotlib)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        step = max(1, len(self.cumulative_total) // 4000)
        x = self.cumulative_total[::step]
        ax.plot(x, self.cumulative_solute[::step], ".", ms=2, color="0.4", label="ions")
        n_if = np.interp(self.position, self.distance, self.cumulative_total)
        for (m, b), color, label in (
            (self.fit_left, "tab:blue", "fit left"), (self.fit_right, "tab:red", "fit right")
        ):
            ax.plot(x, m * x + b, "-", color=color, lw=1, label=label)
        ya = self.fit_left[0] * n_if + self.fit_left[1]
        yb = self.fit_right[0] * n_if + self.fit_right[1]
        ax.annotate("", xy=(n_if, yb), xytext=(n_if, ya),
                    arrowprops={"arrowstyle": "<->", "color": "k"})
        ax.set_xlabel("cumulative ions")
        ax.set_ylabel("cumulative solute ions")
        ax.set_title(f"excess {self.excess:.2f} ± {self.error:.2f} atoms/nm²")
        ax.legend(loc="upper left", fontsize=8)
        return ax


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if len(x) < 2 or np.ptp(x) == 0:
        raise ExcessError("a fit window holds fewer than 2 ions; widen the ROI or the windows")
    m, b = np.polyfit(x.astype(np.float64), y.astype(np.float64), 1)
    return float(m), float(b)


def interfacial_excess(
    distance: np.ndarray,
    solute: np.ndarray,
    *,
    area: float,
    efficiency: float = 1.0,
    position: float | None = None,
    window: float = 1.5,
    fit_length: float | None = None,
    smooth: float = 0.5,
) -> ExcessResult:
    """Excess of the ``solute`` ions across an interface from a ladder diagram.

    Parameters
    ----------
    distance : (n,) distance of each ROI ion along the interface normal (nm), any order.
    solute : (n,) bool, True for ions of the segregating species.
    area : interface area inside the ROI (nm^2), e.g. pi r^2 for a cylinder along the normal.
    efficiency : detection efficiency (0-1); use 1 to get the excess in detected ions/nm^2.
    position : interface position (nm); default: the peak of the solute fraction, found on a
        ``smooth``-nm grid.
    window : half-width (nm) around the interface excluded from the line fits.
    fit_length : length (nm) of each fit window beyond ``window``; default: to the ROI ends.
    """
    d = np.asarray(distance, dtype=np.float64)
    s = np.asarray(solute)
    if d.ndim != 1 or s.shape != d.shape:
        raise ExcessError(f"distance and solute must be 1D of the same length, got "
                          f"{d.shape} and {s.shape}")
    if s.dtype != bool:
        raise ExcessError(f"solute must be a boolean mask, got dtype {s.dtype}")
    if not np.all(np.isfinite(d)):
        raise ExcessError("distance holds NaN or infinite values")
    if not (np.isfinite(area) and area > 0):
        raise ExcessError(f"area must be > 0 nm^2, got {area!r}")
    if not 0 < efficiency <= 1:
        raise ExcessError(f"efficiency must be in (0, 1], got {efficiency!r}")
    if not window >= 0 or (fit_length is not None and not fit_length > 0):
        raise ExcessError(f"window must be >= 0 and fit_length > 0 (got {window}, {fit_length})")
    if len(d) < 10 or s.sum() == 0:
        raise ExcessError(f"need at least 10 ions and one solute ion in the ROI (got {len(d)}, "
                          f"{int(s.sum())})")
    order = np.argsort(d, kind="stable")
    d = d[order]
    s = s[order]
    cum_n = np.arange(1, len(d) + 1, dtype=np.float64)
    cum_s = np.cumsum(s, dtype=np.float64)
    if position is None:
        if not smooth > 0:
            raise ExcessError(f"smooth must be > 0 nm, got {smooth}")
        edges = np.arange(d[0], d[-1] + smooth, smooth)
        n, _ = np.histogram(d, edges)
        ns, _ = np.histogram(d[s], edges)
        frac = np.where(n >= 20, ns / np.maximum(n, 1), 0.0)
        k = int(np.argmax(frac))
        position = 0.5 * (edges[k] + edges[k + 1])
    elif not (d[0] < position < d[-1]):
        raise ExcessError(f"position {position} is outside the ROI ({d[0]:.2f} to {d[-1]:.2f} nm)")
    lo_end = d[0] if fit_length is None else position - window - fit_length
    hi_end = d[-1] if fit_length is None else position + window + fit_length
    left = (d >= lo_end) & (d < position - window)
    right = (d > position + window) & (d <= hi_end)
    if left.sum() < 2 or right.sum() < 2:
        raise ExcessError(
            f"the fit windows left/right of the interface at {position:.2f} nm hold "
            f"{int(left.sum())}/{int(right.sum())} ions; move the ROI or shrink window"
        )
    fl = _fit(cum_n[left], cum_s[left])
    fr = _fit(cum_n[right], cum_s[right])
    n_if = float(np.interp(position, d, cum_n))
    jump = (fr[0] * n_if + fr[1]) - (fl[0] * n_if + fl[1])
    # Error: Poisson on solute between windows, binomial on slopes extrapolated to the interface.
    between = ~left & ~right & (d >= lo_end) & (d <= hi_end)
    n_left, n_right = left.sum(), right.sum()
    ext_l = n_if - cum_n[left][-1]
    ext_r = cum_n[right][0] - n_if
    cl, cr = np.clip(fl[0], 0, 1), np.clip(fr[0], 0, 1)
    var = s[between].sum() + ext_l**2 * cl * (1 - cl) / n_left + ext_r**2 * cr * (1 - cr) / n_right
    scale = 1.0 / (efficiency * area)
    return ExcessResult(
        excess=float(jump * scale),
        error=float(np.sqrt(var) * scale),
        n_excess=float(jump),
        position=float(position),
        area=float(area),
        efficiency=float(efficiency),
        fraction_left=float(fl[0]),
        fraction_right=float(fr[0]),
        fit_left=fl,
        fit_right=fr,
        windows=((float(lo_end), float(position - window)),
                 (float(position + window), float(hi_end))),
        cumulative_total=cum_n,
        cumulative_solute=cum_s,
        distance=d,
    )
