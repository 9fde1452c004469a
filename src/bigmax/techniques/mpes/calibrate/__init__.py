"""Calibrations of photoemission events: momentum, energy, delay, detector sectors, normalisation.

Each module fits its calibration on a small binned image or a few curves (seconds), and produces
the numbers the binning engine applies to every event. ``CalibrationError`` is the one error
they raise for bad input; its message names the array, file or parameter.
"""

from __future__ import annotations


class CalibrationError(ValueError):
    """Bad calibration input; the message names the array, file or parameter at fault."""
