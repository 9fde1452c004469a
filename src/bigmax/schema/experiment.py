"""What an experimental entry (atom probe, photoemission, microscopy) says about its data.

Experimental files are large; the archive keeps the raw file and, here, what a user needs to find
and judge it: the technique, the instrument, how many events, a few headline numbers and small
summary curves (a mass spectrum, an energy distribution) that the GUI can draw without the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bigmax.schema.base import Section
from bigmax.schema.properties import ScalarQuantity

Technique = Literal[
    "atom probe tomography", "multidimensional photoemission", "electron microscopy"
]


class SummaryCurve(Section):
    """A small 1D curve (at most a few thousand points) that summarises a large dataset."""

    title: str
    x_label: str = Field(description="Axis label with unit, e.g. 'mass-to-charge (Da)'")
    y_label: str
    x: list[float]
    y: list[float]
    log_y: bool = False


class Experiment(Section):
    technique: Technique
    instrument: str | None = None
    file_format: str | None = Field(default=None, description="e.g. 'pos', 'epos', 'METIS HDF5'")
    n_events: int | None = Field(default=None, ge=0, description="Ions or electrons recorded")
    composition: dict[str, float] | None = Field(
        default=None, description="Atomic fraction of each element (sums to 1)"
    )
    summary: dict[str, ScalarQuantity] = Field(
        default_factory=dict, description="Headline numbers, e.g. ranged fraction, delay range"
    )
    curves: list[SummaryCurve] = Field(default_factory=list)
