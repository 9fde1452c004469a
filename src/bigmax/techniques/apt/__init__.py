"""Atom probe tomography: files, ranging, composition, microstructure and clusters.

Everything works on numpy arrays (xyz float32 in nm, m/q float32 in Da) and runs out of core
on 10^8 ions. The public names below are imported lazily, so ``import bigmax.techniques.apt``
stays cheap; the submodules hold the rest. A function named like its module is reached through
the module (``apt.composition.composition``, ``apt.autorange.autorange``,
``apt.multiplicity.multiplicity``, ``apt.isosurface.isosurface``).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    # ions, files and ranges
    "IonData": "ions", "APTFormatError": "ions",
    "read_ions": "formats", "iter_chunks": "formats", "detect_format": "formats",
    "read_sections": "formats", "write_ions": "formats", "write_pos": "formats",
    "write_epos": "formats", "write_nxapm": "formats",
    "RangeTable": "ranges", "read_ranges": "ranges", "write_rrng": "ranges",
    "label_ions": "ranges", "infer_charge": "ranges", "RangeFileError": "ranges",
    "RangeFileWarning": "ranges",
    # spectrum, composition, selections, automatic ranging
    "mass_spectrum": "spectrum", "MassSpectrum": "spectrum", "background": "spectrum",
    "Background": "spectrum", "tof_background_fit": "spectrum", "plot_spectrum": "spectrum",
    "SpectrumError": "spectrum",
    "composition_table": "composition",
    "count_ranges": "composition", "RangeCounts": "composition",
    "CompositionError": "composition",
    "Sphere": "roi", "Cylinder": "roi", "Box": "roi", "parse_roi": "roi", "ROIError": "roi",
    "events": "multiplicity", "singles": "multiplicity",
    "multiples": "multiplicity", "n_hits": "multiplicity",
    "multiplicity_counts": "multiplicity", "MultiplicityError": "multiplicity",
    "AutoRangeResult": "autorange", "check_ranges": "autorange",
    "isotope_pattern": "autorange", "detect_peaks": "autorange",
    "AutoRangeError": "autorange",
    # microstructure
    "SyntheticSpecimen": "synthetic", "synthetic_specimen": "synthetic",
    "write_synthetic": "synthetic",
    "voxelize": "voxels", "VoxelError": "voxels",
    "Mesh": "isosurface", "write_mesh": "isosurface",
    "cylinder_profile": "profiles", "proxigram": "profiles", "signed_distance": "profiles",
    "interfacial_excess": "excess", "ExcessResult": "excess",
    "PhaseSegmentation": "segmentation", "segment_field": "segmentation",
    # clusters and spatial statistics
    "MaxSeparation": "clusters", "ClusterInputError": "clusters",
    "cluster_table": "cluster_stats", "analysed_volume": "cluster_stats",
    "number_density": "cluster_stats",
    "knn_distribution": "spatial_stats", "rdf": "spatial_stats",
    "PointCloudError": "spatial_stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
