"""Regions of interest: sphere, cylinder (any axis) and box, as boolean masks over ions.

A mask over 10^8 ions must not cost a float64 (n, 3) temporary (2.4 GB), so the tests run in a
numba kernel, ion by ion, in parallel. ``parse_roi`` reads the CLI's ``sphere:x,y,z,r`` text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


class ROIError(ValueError):
    """A bad ROI definition or position array; the message names the field."""


@numba.njit(parallel=True, cache=True)
def _cylinder_mask(xyz, c, u, r2, half):  # pragma: no cover - compiled
    n = xyz.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for i in numba.prange(n):
        dx = xyz[i, 0] - c[0]
        dy = xyz[i, 1] - c[1]
        dz = xyz[i, 2] - c[2]
        t = dx * u[0] + dy * u[1] + dz * u[2]
        d2 = dx * dx + dy * dy + dz * dz - t * t
        out[i] = d2 <= r2 and abs(t) <= half
    return out


@numba.njit(parallel=True, cache=True)
def _box_mask(xyz, lo, hi):  # pragma: no cover - compiled
    n = xyz.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for i in numba.prange(n):
        out[i] = (
            lo[0] <= xyz[i, 0] <= hi[0]
            and lo[1] <= xyz[i, 1] <= hi[1]
            and lo[2] <= xyz[i, 2] <= hi[2]
        )
    return out


def _vector(value, name: str, size: int = 3) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise ROIError(f"{name}: expected {size} numbers, got {value!r}") from err
    if arr.size != size or not np.isfinite(arr).all():
        raise ROIError(f"{name}: expected {size} finite numbers, got {value!r}")
    return arr


def _positions(xyz: np.ndarray) -> np.ndarray:
    arr = np.asarray(xyz)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ROIError(f"xyz: expected an (n, 3) array of positions, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class Sphere:
    center: tuple[float, float, float]
    radius: float

    def mask(self, xyz: np.ndarray) -> np.ndarray:
        """True for ions inside (or on) the sphere."""
        r = float(self.radius)
        if not r > 0:
            raise ROIError(f"sphere radius: expected a positive number, got {self.radius!r}")
        c = _vector(self.center, "sphere center")
        return _cylinder_mask(_positions(xyz), c, np.zeros(3), r * r, np.inf)

    @property
    def volume(self) -> float:
        return 4.0 / 3.0 * np.pi * float(self.radius) ** 3


@dataclass(frozen=True)
class Cylinder:
    """A cylinder centred on ``center``, axis along ``axis`` (any direction), ``length`` long."""

    center: tuple[float, float, float]
    axis: tuple[float, float, float]
    radius: float
    length: float

    def mask(self, xyz: np.ndarray) -> np.ndarray:
        if not (float(self.radius) > 0 and float(self.length) > 0):
            raise ROIError(
                f"cylinder: radius and length must be positive, got {self.radius!r}, "
                f"{self.length!r}"
            )
        u = _vector(self.axis, "cylinder axis")
        norm = np.linalg.norm(u)
        if norm == 0:
            raise ROIError("cylinder axis: the zero vector has no direction")
        c = _vector(self.center, "cylinder center")
        r = float(self.radius)
        return _cylinder_mask(_positions(xyz), c, u / norm, r * r, 0.5 * float(self.length))

    @property
    def volume(self) -> float:
        return np.pi * float(self.radius) ** 2 * float(self.length)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box from corner ``low`` to corner ``high``."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def mask(self, xyz: np.ndarray) -> np.ndarray:
        lo, hi = _vector(self.low, "box low"), _vector(self.high, "box high")
        if not (hi > lo).all():
            raise ROIError(f"box: every high corner value must exceed low, got {lo} and {hi}")
        return _box_mask(_positions(xyz), lo, hi)

    @property
    def volume(self) -> float:
        return float(np.prod(np.subtract(self.high, self.low)))


ROI = Sphere | Cylinder | Box
_FIELDS = {"sphere": 4, "cylinder": 8, "box": 6}


def parse_roi(text: str) -> ROI:
    """``sphere:x,y,z,r``, ``cylinder:x,y,z,ax,ay,az,r,length`` or ``box:x0,y0,z0,x1,y1,z1``."""
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in _FIELDS:
        raise ROIError(f"roi {text!r}: expected sphere:, cylinder: or box: followed by numbers")
    try:
        values = [float(v) for v in rest.split(",")]
    except ValueError as err:
        raise ROIError(f"roi {text!r}: {err}") from err
    if len(values) != _FIELDS[kind]:
        raise ROIError(f"roi {text!r}: {kind} needs {_FIELDS[kind]} numbers, got {len(values)}")
    if kind == "sphere":
        return Sphere(tuple(values[:3]), values[3])
    if kind == "cylinder":
        return Cylinder(tuple(values[:3]), tuple(values[3:6]), values[6], values[7])
    return Box(tuple(values[:3]), tuple(values[3:]))
