"""Multidimensional photoemission: single-electron events to calibrated band-structure cubes.

Event files are read lazily in chunks, calibrations are fitted on small images and curves, and
one compiled pass per chunk applies them and bins (on threads, or a dask cluster). The public
names below are imported lazily, so ``import bigmax.techniques.mpes`` stays cheap; the
submodules (and ``calibrate.momentum``, ``calibrate.energy``, ...) hold the rest.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    # events and the Parquet store
    "open_events": "events", "EventSource": "events", "Chunk": "events",
    "Partition": "events", "read_partition": "events", "MPESFormatError": "events",
    "MPESColumnError": "events", "MPESFileWarning": "events",
    "convert_to_parquet": "store",
    # transforms and binning
    "Jitter": "transforms", "DistortionCorrection": "transforms",
    "MomentumCalibration": "transforms", "EnergyCalibration": "transforms",
    "DelayCalibration": "transforms", "Filter": "transforms", "Pipeline": "transforms",
    "PipelineError": "transforms",
    "Axis": "binning", "bin_events": "binning", "BinningError": "binning",
    # calibrations and configuration
    "CalibrationError": "calibrate",
    "MomentumCorrector": "calibrate.momentum", "find_landmarks": "calibrate.momentum",
    "momentum_scale": "calibrate.momentum",
    "EnergyCalibrator": "calibrate.energy", "bias_series_from_files": "calibrate.energy",
    "delay_from_adc": "calibrate.delay", "delay_from_stage": "calibrate.delay",
    "delay_from_file": "calibrate.delay",
    "align_sectors": "calibrate.sectors", "acquisition_time_histogram": "calibrate.normalise",
    "MpesConfig": "config", "ConfigError": "config", "load_config": "config",
    "dump_config": "config", "from_sed": "config", "to_sed": "config",
    # synthetic events, output, bands and plots
    "synthetic_events": "synthetic", "write_synthetic": "synthetic",
    "SyntheticTruth": "synthetic",
    "write_nxmpes": "output", "read_nxmpes": "output", "write_zarr": "output",
    "read_zarr": "output", "read_cube": "output",
    "fit_edcs": "bands", "path_cut": "bands",
    "plot_slice": "plots", "plot_cut": "plots", "plot_trace": "plots", "overview": "plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
