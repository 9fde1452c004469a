"""Per-event transforms of a photoemission event stream, as data.

Each step is a frozen, JSON-serialisable pydantic model. A :class:`Pipeline` lists them in the
order they are applied. The binning engine (:mod:`bigmax.techniques.mpes.binning`) compiles a
pipeline and the bin update into one numba pass per chunk; :meth:`Pipeline.apply` is the slow,
plain-numpy reference of the same arithmetic, kept for tests and for small data.

All arithmetic is float64. Raw columns keep their native dtype until a step reads them.

Steps read and write named columns. A step's output columns may be read by later steps and by
the binning axes. Raw columns that no step writes must exist in the event source.

Jitter is reproducible: the noise added to event ``i`` of file ``f`` in column ``c`` is a pure
function of ``(seed, f, i, c)`` (a splitmix64 hash of a counter), so any chunking, any thread
count, and the data and normalisation histograms all see the same noise.
"""

from __future__ import annotations

import math
import zlib
from abc import abstractmethod
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DelayCalibration",
    "DistortionCorrection",
    "EnergyCalibration",
    "Filter",
    "Jitter",
    "MomentumCalibration",
    "Pipeline",
    "PipelineError",
    "jitter_key",
    "splitmix64_uniform",
]

#: m_e / (2 e) in eV s^2 m^-2, the constant of sed's TOF-to-energy formula.
ME_OVER_2E = 2.84281e-12
#: Light travels 0.299792458 mm per ps; a delay stage doubles the path.
PS_PER_MM = 2.0 / 0.299792458

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


class PipelineError(ValueError):
    """A pipeline or one of its steps cannot be applied (names the step and the column)."""


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def inputs(self) -> tuple[str, ...]:
        """Columns the step reads."""

    def outputs(self) -> tuple[str, ...]:
        """Columns the step writes (new or replaced)."""
        return ()


# ---------------------------------------------------------------------------------------------
# counter-based RNG (the numba kernel implements the same three functions)


def _fmix64(z: int) -> int:
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def jitter_key(seed: int, file_index: int, column: str, stream: int = 0) -> int:
    """The 64-bit key of one (seed, file, column, stream) noise stream.

    The column enters by name (CRC-32), so a column gets the same noise whatever other columns
    are jittered with it. ``stream`` 1 is the second uniform of a Box-Muller pair.
    """
    k = _fmix64((seed & _MASK64) + _GOLDEN)
    k = _fmix64(k ^ zlib.crc32(column.encode()) ^ (stream << 32))
    return _fmix64(k ^ (file_index & _MASK64))


def splitmix64_uniform(key: int, index: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) noise for event indices ``index`` of one stream (numpy reference)."""
    idx = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (idx + np.uint64(1)) * np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


# ---------------------------------------------------------------------------------------------
# steps


class Jitter(_Step):
    """Dither integer detector columns so that binning onto a finer or shifted grid shows no
    moiré. Uniform adds U(-a, a); normal adds N(0, a^2)."""

    op: Literal["jitter"] = "jitter"
    columns: dict[str, float] = Field(
        description="column -> amplitude, in the column's own units (detector steps); "
        "sed's default is 0.5 step, i.e. +-half a digitisation step",
        min_length=1,
    )
    distribution: Literal["uniform", "normal"] = Field(
        "uniform", description="uniform: U(-a, a); normal: Gaussian with sigma a"
    )
    seed: int = Field(0, ge=0, lt=2**63, description="RNG seed (dimensionless)")

    @field_validator("columns")
    @classmethod
    def _amplitudes(cls, value: dict[str, float]) -> dict[str, float]:
        for col, amp in value.items():
            if not math.isfinite(amp) or amp < 0:
                raise ValueError(f"jitter amplitude of column {col!r} must be >= 0, got {amp}")
        return value

    def inputs(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def outputs(self) -> tuple[str, ...]:
        return tuple(self.columns)


class DistortionCorrection(_Step):
    """Symmetry-distortion correction: x' = x + dx(x, y), y' = y + dy(x, y), with dx, dy a
    displacement field sampled on a regular detector grid and looked up bilinearly.

    ``dx[i][j]`` is the displacement at x = x0 + i*step, y = y0 + j*step (first index along
    x). Outside the grid the nearest edge value is used.
    """

    op: Literal["distortion"] = "distortion"
    dx: list[list[float]] = Field(description="x displacement field, detector pixels, [x][y]")
    dy: list[list[float]] = Field(description="y displacement field, detector pixels, [x][y]")
    x0: float = Field(0.0, description="x of grid node [0][0], detector pixels")
    y0: float = Field(0.0, description="y of grid node [0][0], detector pixels")
    step: float = Field(1.0, gt=0, description="grid spacing, detector pixels")
    x_column: str = Field("X", description="input x column (pixels)")
    y_column: str = Field("Y", description="input y column (pixels)")
    x_out: str = Field("Xm", description="corrected x column (pixels)")
    y_out: str = Field("Ym", description="corrected y column (pixels)")

    @model_validator(mode="after")
    def _shapes(self) -> DistortionCorrection:
        dx, dy = self.fields()
        if dx.ndim != 2 or dx.shape[0] < 2 or dx.shape[1] < 2:
            raise ValueError(f"distortion field dx must be 2D, at least 2x2, got {dx.shape}")
        if dx.shape != dy.shape:
            raise ValueError(f"distortion fields dx {dx.shape} and dy {dy.shape} differ")
        if not (np.isfinite(dx).all() and np.isfinite(dy).all()):
            raise ValueError("distortion fields dx/dy contain NaN or inf")
        return self

    @classmethod
    def from_arrays(cls, dx: np.ndarray, dy: np.ndarray, **kwargs) -> DistortionCorrection:
        """Build from numpy arrays (shape (n_x, n_y))."""
        return cls(dx=np.asarray(dx, float).tolist(), dy=np.asarray(dy, float).tolist(), **kwargs)

    def fields(self) -> tuple[np.ndarray, np.ndarray]:
        """dx, dy as float64 arrays (cached)."""
        return _as_array(self, "dx"), _as_array(self, "dy")

    def inputs(self) -> tuple[str, ...]:
        return (self.x_column, self.y_column)

    def outputs(self) -> tuple[str, ...]:
        return (self.x_out, self.y_out)


class MomentumCalibration(_Step):
    """Detector pixels to parallel momentum: rotate about the centre (Gamma), then scale.

    kx = kx_scale * (cos r * (x - xc) - sin r * (y - yc)),
    ky = ky_scale * (sin r * (x - xc) + cos r * (y - yc)).
    """

    op: Literal["momentum"] = "momentum"
    x_center: float = Field(description="x of Gamma on the detector, pixels")
    y_center: float = Field(description="y of Gamma on the detector, pixels")
    kx_scale: float = Field(description="1/Angstrom per pixel along x")
    ky_scale: float = Field(description="1/Angstrom per pixel along y")
    rotation: float = Field(0.0, description="rotation of the k axes, degrees (counter-clockwise)")
    x_column: str = Field("X", description="input x column (pixels)")
    y_column: str = Field("Y", description="input y column (pixels)")
    kx_out: str = Field("kx", description="output column, 1/Angstrom")
    ky_out: str = Field("ky", description="output column, 1/Angstrom")

    def inputs(self) -> tuple[str, ...]:
        return (self.x_column, self.y_column)

    def outputs(self) -> tuple[str, ...]:
        return (self.kx_out, self.ky_out)


class EnergyCalibration(_Step):
    """Time of flight (steps) to energy (eV), with sed's two forms.

    ``tof_quadratic``: E = s * ME_OVER_2E * (d / ((t + tof_offset) * binwidth * binning - t0))^2
    + e0, with s = +1 for a kinetic and -1 for a binding energy scale (sed's ``tof2ev``).
    ``polynomial``: E = sum_k coeffs[-k] * (t + tof_offset)^k + e0 for k = 1..n, i.e. the
    coefficients highest order first and no constant term (sed's ``tof2evpoly``).
    """

    op: Literal["energy"] = "energy"
    kind: Literal["tof_quadratic", "polynomial"] = Field(
        "tof_quadratic", description="calibration form (see class docstring)"
    )
    d: float = Field(1.0, description="drift distance, m (tof_quadratic)")
    t0: float = Field(0.0, description="time offset, s (tof_quadratic)")
    e0: float = Field(0.0, description="energy offset, eV")
    binwidth: float = Field(4.125e-12, gt=0, description="TOF step width, s")
    binning: int = Field(1, ge=1, description="TOF binning factor (steps per recorded step)")
    tof_offset: float = Field(0.0, description="added to the TOF column first, TOF steps")
    coeffs: tuple[float, ...] = Field(
        (), description="polynomial coefficients, highest order first, eV / step^k"
    )
    energy_scale: Literal["kinetic", "binding"] = Field(
        "kinetic", description="kinetic: energy grows as TOF falls; binding: the reverse"
    )
    tof_column: str = Field("t", description="input TOF column, steps")
    out: str = Field("energy", description="output column, eV")

    @model_validator(mode="after")
    def _kind(self) -> EnergyCalibration:
        if self.kind == "polynomial" and not self.coeffs:
            raise ValueError("energy calibration of kind 'polynomial' needs coeffs")
        return self

    def inputs(self) -> tuple[str, ...]:
        return (self.tof_column,)

    def outputs(self) -> tuple[str, ...]:
        return (self.out,)


class DelayCalibration(_Step):
    """Delay-stage reading to pump-probe delay: delay = (value - offset) * scale, in ps."""

    op: Literal["delay"] = "delay"
    column: str = Field("ADC", description="input column (ADC counts or stage mm)")
    offset: float = Field(0.0, description="reading at time zero, in the column's unit")
    scale: float = Field(1.0, description="ps per unit of the column")
    unit: str = Field("adc", description="unit of the input column, e.g. 'adc' or 'mm'")
    out: str = Field("delay", description="output column, ps")

    @classmethod
    def from_adc_range(
        cls,
        adc_range: tuple[float, float],
        delay_range: tuple[float, float],
        column: str = "ADC",
        out: str = "delay",
    ) -> DelayCalibration:
        """Map the ADC range linearly onto a delay range in ps (sed's adc_range/delay_range)."""
        a0, a1 = adc_range
        d0, d1 = delay_range
        if a1 == a0 or d1 == d0:
            raise PipelineError(
                f"delay calibration: adc_range {adc_range} and delay_range {delay_range} "
                "must both have distinct ends"
            )
        scale = (d1 - d0) / (a1 - a0)
        return cls(column=column, offset=a0 - d0 / scale, scale=scale, unit="adc", out=out)

    @classmethod
    def from_stage_mm(
        cls, time0_mm: float, column: str = "delayStage", sign: float = 1.0, out: str = "delay"
    ) -> DelayCalibration:
        """A delay stage in mm: the light path changes by twice the stage move."""
        return cls(column=column, offset=time0_mm, scale=sign * PS_PER_MM, unit="mm", out=out)

    def inputs(self) -> tuple[str, ...]:
        return (self.column,)

    def outputs(self) -> tuple[str, ...]:
        return (self.out,)


class Filter(_Step):
    """Keep events with lo <= column < hi (hi inclusive when ``inclusive`` is set)."""

    op: Literal["filter"] = "filter"
    column: str = Field(description="column to test, in its own unit")
    lo: float = Field(-math.inf, description="lower bound, kept when value >= lo")
    hi: float = Field(math.inf, description="upper bound, kept when value < hi")
    inclusive: bool = Field(False, description="keep value == hi as well")

    @model_validator(mode="after")
    def _bounds(self) -> Filter:
        if math.isnan(self.lo) or math.isnan(self.hi) or self.lo > self.hi:
            raise ValueError(f"filter on {self.column!r}: lo={self.lo} > hi={self.hi}")
        return self

    def inputs(self) -> tuple[str, ...]:
        return (self.column,)


Step = Annotated[
    Jitter | DistortionCorrection | MomentumCalibration | EnergyCalibration
    | DelayCalibration | Filter,
    Field(discriminator="op"),
]


_ARRAYS: dict[tuple[int, str], tuple[BaseModel, np.ndarray]] = {}


def _as_array(model: BaseModel, name: str) -> np.ndarray:
    """A list-of-lists field as a float64 array, converted once per model instance."""
    hit = _ARRAYS.get((id(model), name))
    if hit is not None and hit[0] is model:
        return hit[1]
    arr = np.ascontiguousarray(np.asarray(getattr(model, name), dtype=np.float64))
    if len(_ARRAYS) > 64:
        _ARRAYS.clear()
    _ARRAYS[(id(model), name)] = (model, arr)
    return arr


# ---------------------------------------------------------------------------------------------
# the pipeline


class Pipeline(BaseModel):
    """Ordered per-event transforms. ``Pipeline.model_validate_json(p.model_dump_json())``
    round-trips; the binning engine stores that JSON in its output's attrs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[Step, ...] = Field((), description="transforms, applied in order")

    def required_columns(self, wanted: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Raw columns the source must provide for the steps and for ``wanted`` columns."""
        produced: set[str] = set()
        raw: list[str] = []
        for step in self.steps:
            for col in step.inputs():
                if col not in produced and col not in raw:
                    raw.append(col)
            produced.update(step.outputs())
        for col in wanted:
            if col not in produced and col not in raw:
                raw.append(col)
        return tuple(raw)

    def check_columns(self, available: set[str] | list[str], wanted: tuple[str, ...] = ()):
        """Raise :class:`PipelineError` naming the first column no source or step provides."""
        have = set(available)
        for i, step in enumerate(self.steps):
            for col in step.inputs():
                if col not in have:
                    raise PipelineError(
                        f"step {i} ({step.op}) reads column {col!r}, which is neither in the "
                        f"events ({', '.join(sorted(available)) or 'none'}) nor made by an "
                        "earlier step"
                    )
            have.update(step.outputs())
        for col in wanted:
            if col not in have:
                raise PipelineError(
                    f"column {col!r} is neither in the events "
                    f"({', '.join(sorted(available)) or 'none'}) nor made by a pipeline step"
                )

    def apply(
        self, chunk: dict[str, np.ndarray], file_index: int = 0, event_offset: int = 0
    ) -> dict[str, np.ndarray]:
        """Reference implementation in plain numpy: every column as float64, filtered rows
        removed. Slow and memory hungry; for tests and small data."""
        cols = {k: np.asarray(v) for k, v in chunk.items()}
        n = len(next(iter(cols.values()))) if cols else 0
        self.check_columns(set(cols))
        cols = {k: v.astype(np.float64) for k, v in cols.items()}
        index = np.arange(event_offset, event_offset + n, dtype=np.uint64)
        keep = np.ones(n, dtype=bool)
        for step in self.steps:
            _apply_step(step, cols, index, file_index, keep)
        return {k: v[keep] for k, v in cols.items()}


def _apply_step(step, cols, index, file_index, keep) -> None:
    if isinstance(step, Jitter):
        for col, amp in step.columns.items():
            u = splitmix64_uniform(jitter_key(step.seed, file_index, col, 0), index)
            if step.distribution == "uniform":
                cols[col] = cols[col] + amp * (2.0 * u - 1.0)
            else:
                u2 = splitmix64_uniform(jitter_key(step.seed, file_index, col, 1), index)
                z = np.sqrt(-2.0 * np.log1p(-u)) * np.cos(2.0 * np.pi * u2)
                cols[col] = cols[col] + amp * z
    elif isinstance(step, DistortionCorrection):
        dx, dy = step.fields()
        x, y = cols[step.x_column], cols[step.y_column]
        ddx, ddy = _bilinear(dx, x, y, step), _bilinear(dy, x, y, step)
        cols[step.x_out] = x + ddx
        cols[step.y_out] = y + ddy
    elif isinstance(step, MomentumCalibration):
        r = math.radians(step.rotation)
        c, s = math.cos(r), math.sin(r)
        u = cols[step.x_column] - step.x_center
        v = cols[step.y_column] - step.y_center
        cols[step.kx_out] = step.kx_scale * (c * u - s * v)
        cols[step.ky_out] = step.ky_scale * (s * u + c * v)
    elif isinstance(step, EnergyCalibration):
        t = cols[step.tof_column] + step.tof_offset
        if step.kind == "tof_quadratic":
            sign = 1.0 if step.energy_scale == "kinetic" else -1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                q = step.d / (t * (step.binwidth * step.binning) - step.t0)
            cols[step.out] = sign * ME_OVER_2E * (q * q) + step.e0
        else:
            acc = np.zeros_like(t)
            for c in step.coeffs:
                acc = (acc + c) * t
            cols[step.out] = acc + step.e0
    elif isinstance(step, DelayCalibration):
        cols[step.out] = (cols[step.column] - step.offset) * step.scale
    elif isinstance(step, Filter):
        v = cols[step.column]
        ok = (v >= step.lo) & ((v <= step.hi) if step.inclusive else (v < step.hi))
        keep &= ok
    else:  # pragma: no cover - the discriminated union admits nothing else
        raise PipelineError(f"unknown step {step!r}")


def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray, step) -> np.ndarray:
    nx, ny = field.shape
    with np.errstate(invalid="ignore"):
        fx = (x - step.x0) / step.step
        fy = (y - step.y0) / step.step
        fx = np.where(fx > 0.0, np.minimum(fx, nx - 1.0), 0.0)  # NaN -> 0, like the kernel
        fy = np.where(fy > 0.0, np.minimum(fy, ny - 1.0), 0.0)
    ix = np.minimum(fx.astype(np.int64), nx - 2)
    iy = np.minimum(fy.astype(np.int64), ny - 2)
    tx, ty = fx - ix, fy - iy
    return ((1 - tx) * (1 - ty) * field[ix, iy] + tx * (1 - ty) * field[ix + 1, iy]
            + (1 - tx) * ty * field[ix, iy + 1] + tx * ty * field[ix + 1, iy + 1])
