"""Delay calibration: ADC counts or delay-stage millimetres to pump-probe delay in ps.

A retro-reflecting delay stage lengthens the light path by twice its move, so 1 mm of stage is
2 / c = 6.671 ps. The METIS files record the stage position as an ADC reading per event and its
scan limits (``p1``, ``p2``) and time zero (``t0``) in mm as file attributes; the calibration maps
the ADC range of the scan linearly onto the delay range those limits give. FEL beamlines record
the stage in mm directly (``from_stage``). ``flip`` reverses the time axis (pump and probe
swapped, or a stage mounted the other way round).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from bigmax.techniques.mpes.calibrate import CalibrationError
from bigmax.techniques.mpes.transforms import PS_PER_MM, DelayCalibration

__all__ = [
    "delay_from_adc",
    "delay_from_file",
    "delay_from_stage",
    "mm_to_ps",
    "stage_delay_range",
]

METIS_KEYS = {
    "p1": "trARPES:DelayStage:p1",
    "p2": "trARPES:DelayStage:p2",
    "t0": "trARPES:DelayStage:t0",
    "adc": "Stream_4",
}


def mm_to_ps(position_mm, time0_mm: float = 0.0):
    """Delay (ps) of a stage position: twice the move from time zero, over c."""
    return (np.asarray(position_mm, dtype=np.float64) - time0_mm) * PS_PER_MM


def _finite(name: str, *values) -> None:
    for v in values:
        if not (isinstance(v, int | float | np.floating | np.integer) and math.isfinite(v)):
            raise CalibrationError(f"{name} must be finite numbers, got {values!r}")


def stage_delay_range(p1_mm: float, p2_mm: float, t0_mm: float) -> tuple[float, float]:
    """The delay range (ps) of a scan from stage position p1 to p2 with time zero at t0."""
    _finite("stage positions p1, p2, t0 (mm)", p1_mm, p2_mm, t0_mm)
    if p1_mm == p2_mm:
        raise CalibrationError(f"stage scan limits p1 and p2 are equal ({p1_mm} mm)")
    return float(mm_to_ps(p1_mm, t0_mm)), float(mm_to_ps(p2_mm, t0_mm))


def delay_from_adc(
    adc_range: tuple[float, float],
    delay_range: tuple[float, float],
    *,
    column: str = "ADC",
    out: str = "delay",
    flip: bool = False,
) -> DelayCalibration:
    """Linear map of the ADC scan range onto the delay range (ps)."""
    if len(adc_range) != 2 or len(delay_range) != 2:
        raise CalibrationError("adc_range and delay_range must each be two numbers")
    _finite("adc_range", *adc_range)
    _finite("delay_range", *delay_range)
    if adc_range[0] == adc_range[1]:
        raise CalibrationError(f"adc_range {tuple(adc_range)} has equal ends")
    if delay_range[0] == delay_range[1]:
        raise CalibrationError(f"delay_range {tuple(delay_range)} has equal ends")
    d0, d1 = (-delay_range[0], -delay_range[1]) if flip else tuple(delay_range)
    with np.errstate(all="ignore"):
        scale = (np.float64(d1) - d0) / (np.float64(adc_range[1]) - adc_range[0])
    if not (np.isfinite(scale) and scale != 0 and np.isfinite(d0 / scale)):
        raise CalibrationError(
            f"adc_range {tuple(adc_range)} and delay_range {tuple(delay_range)} give no usable "
            "ps-per-count scale (it under- or overflows)"
        )
    return DelayCalibration.from_adc_range(tuple(adc_range), (d0, d1), column=column, out=out)


def delay_from_stage(
    time0_mm: float, *, column: str = "delayStage", out: str = "delay", flip: bool = False
) -> DelayCalibration:
    """A stage column in mm to ps, time zero at ``time0_mm``."""
    _finite("time0_mm", time0_mm)
    return DelayCalibration.from_stage_mm(
        float(time0_mm), column=column, sign=-1.0 if flip else 1.0, out=out
    )


def _attr(f, key: str, path: Path) -> float:
    if key not in f.attrs:
        raise CalibrationError(f"{path}: attribute {key!r} is missing (needed for the delay)")
    val = f.attrs[key]
    try:
        return float(np.asarray(val).ravel()[0])
    except (TypeError, ValueError):
        raise CalibrationError(f"{path}: attribute {key!r} is not a number ({val!r})") from None


def delay_from_file(
    path: str | Path,
    *,
    adc_range: tuple[float, float] | None = None,
    keys: dict[str, str] | None = None,
    column: str = "ADC",
    out: str = "delay",
    flip: bool = False,
) -> tuple[DelayCalibration, dict]:
    """Delay calibration of a METIS HDF5 file from its stage attributes.

    The delay range comes from the ``p1``, ``p2``, ``t0`` attributes (mm). The ADC range is
    ``adc_range`` when given (sed's config keeps it, e.g. (1900, 25600)), else the range of
    ADC readings in the file, which is right for a file that covers a whole scan. Returns the
    step and the numbers it came from.
    """
    import h5py

    path = Path(path)
    k = {**METIS_KEYS, **(keys or {})}
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise CalibrationError(f"{path}: cannot be read as HDF5 ({err})") from None
    with f:
        p1, p2, t0 = (_attr(f, k[n], path) for n in ("p1", "p2", "t0"))
        if adc_range is None:
            if k["adc"] not in f:
                raise CalibrationError(f"{path}: dataset {k['adc']!r} (ADC) is missing")
            adc = f[k["adc"]][...]
            if adc.size == 0:
                raise CalibrationError(f"{path}: dataset {k['adc']!r} (ADC) is empty")
            adc_range = (float(adc.min()), float(adc.max()))
            if adc_range[0] == adc_range[1]:
                raise CalibrationError(
                    f"{path}: every ADC reading is {adc_range[0]}; the stage did not move, "
                    "give adc_range"
                )
    lo, hi = adc_range
    if hi - lo < 0.05 * max(abs(hi), abs(lo), 1.0):
        warnings.warn(
            f"{path}: ADC range {adc_range} is narrow; if the stage did not scan in this file, "
            "give the scan's adc_range",
            stacklevel=2,
        )
    delay_range = stage_delay_range(p1, p2, t0)
    step = delay_from_adc(adc_range, delay_range, column=column, out=out, flip=flip)
    info = {"p1_mm": p1, "p2_mm": p2, "t0_mm": t0, "adc_range": list(adc_range),
            "delay_range_ps": list(delay_range), "flip": flip}
    return step, info
