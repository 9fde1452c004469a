"""NeXus NXapm (HDF5) writer and reader, with the paths pynxtools-apm uses.

Layout under ``/entry1`` (NXentry, definition NXapm):
``atom_probe/reconstruction/reconstructed_positions`` (n, 3) nm,
``atom_probe/mass_to_charge_conversion/mass_to_charge`` (n,) Da,
``atom_probe/voltage_and_bowl/raw_tof``, ``atom_probe/hit_finding/{hit_positions,
epos_ions_per_pulse, epos_number_of_pulses}``, ``measurement/event1/instrument/pulser/
{standing_voltage, pulse_voltage}`` where the input has them, and with ranges
``atom_probe/ranging/mass_to_charge_distribution/{min,max,n}_mass_to_charge``,
``atom_probe/ranging/peak_identification/ionK/{nuclide_hash, nuclide_list, charge_state,
mass_to_charge_range, name, color}`` (``ion0`` = unknown) and a per-ion ``ion_type`` (uint16,
0 = unranged), so more than 255 ion types fit.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from bigmax.techniques.apt.ions import APTFormatError, IonData, LazyColumns

ENTRY = "entry1"
POS = f"{ENTRY}/atom_probe/reconstruction/reconstructed_positions"
MQ = f"{ENTRY}/atom_probe/mass_to_charge_conversion/mass_to_charge"
PEAKS = f"{ENTRY}/atom_probe/ranging/peak_identification"
#: our column -> (NXapm path under the entry, unit)
COLUMNS = {
    "tof": ("atom_probe/voltage_and_bowl/raw_tof", "ns"),
    "det_x": ("atom_probe/hit_finding/hit_positions_x", "mm"),
    "det_y": ("atom_probe/hit_finding/hit_positions_y", "mm"),
    "multiplicity": ("atom_probe/hit_finding/epos_ions_per_pulse", ""),
    "delta_pulse": ("atom_probe/hit_finding/epos_number_of_pulses", ""),
    "v_dc": ("measurement/event1/instrument/pulser/standing_voltage", "kV"),
    "v_pulse": ("measurement/event1/instrument/pulser/pulse_voltage", "kV"),
}
CLASSES = {
    ENTRY: "NXentry",
    f"{ENTRY}/atom_probe": "NXapm_instrument",
    f"{ENTRY}/atom_probe/reconstruction": "NXapm_reconstruction",
    f"{ENTRY}/atom_probe/mass_to_charge_conversion": "NXprocess",
    f"{ENTRY}/atom_probe/voltage_and_bowl": "NXprocess",
    f"{ENTRY}/atom_probe/hit_finding": "NXapm_hit_finding",
    f"{ENTRY}/atom_probe/ranging": "NXapm_ranging",
    f"{ENTRY}/atom_probe/ranging/mass_to_charge_distribution": "NXprocess",
    PEAKS: "NXprocess",
    f"{ENTRY}/measurement": "NXapm_measurement",
    f"{ENTRY}/measurement/event1": "NXapm_event_data",
    f"{ENTRY}/measurement/event1/instrument": "NXinstrument",
    f"{ENTRY}/measurement/event1/instrument/pulser": "NXpulser_apm",
}


def nuclide_hash(composition: dict[str, int]) -> np.ndarray:
    """32 uint16 hashes Z + 256*N (N = 255: isotope unspecified), sorted descending, 0-padded."""
    from bigmax.techniques.apt.ranges import _elements, is_element

    atoms = []
    for sym, count in composition.items():
        if is_element(sym):
            atoms += [_elements()[sym].number + 256 * 255] * count
    if len(atoms) > 32:
        raise ValueError(f"ion {composition} has {len(atoms)} atoms; NXapm allows 32")
    out = np.zeros(32, np.uint16)
    out[: len(atoms)] = sorted(atoms, reverse=True)
    return out


def _group(f, path: str):
    g = f.require_group(path)
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        p = "/".join(parts[:i])
        if p in CLASSES and "NX_class" not in f[p].attrs:
            f[p].attrs["NX_class"] = CLASSES[p]
    return g


def write_nxapm(
    path: str | os.PathLike,
    ions: IonData,
    ranges=None,
    chunk: int = 1 << 22,
    compression: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write ions (and optionally a RangeTable) as NXapm HDF5, chunk by chunk."""
    import h5py

    from bigmax.techniques.apt.ranges import label_ions

    n = ions.n_ions
    cols = {k: v for k, v in COLUMNS.items() if k in ions.columns}
    with h5py.File(path, "w") as f:
        _group(f, ENTRY)
        f[ENTRY].attrs["default"] = "atom_probe"
        f[f"{ENTRY}/definition"] = "NXapm"
        f[f"{ENTRY}/source_file"] = os.path.basename(ions.source) if ions.source else ""
        f[f"{ENTRY}/source_format"] = ions.format
        ck = (min(chunk, max(n, 1)),)
        kw = {"compression": compression} if compression else {}
        _group(f, POS.rsplit("/", 1)[0])
        _group(f, MQ.rsplit("/", 1)[0])
        d_xyz = f.create_dataset(POS, (n, 3), np.float32, chunks=(ck[0], 3), **kw)
        d_xyz.attrs["units"] = "nm"
        d_mq = f.create_dataset(MQ, (n,), np.float32, chunks=ck, **kw)
        d_mq.attrs["units"] = "Da"
        d_cols = {}
        for name, (rel, unit) in cols.items():
            _group(f, f"{ENTRY}/{rel}".rsplit("/", 1)[0])
            dt = ions.columns[name][:0].dtype
            d_cols[name] = f.create_dataset(f"{ENTRY}/{rel}", (n,), dt, chunks=ck, **kw)
            if unit:
                d_cols[name].attrs["units"] = unit
        d_type = None
        if ranges is not None:
            _write_ranges(f, ranges, ions)
            d_type = f.create_dataset(f"{ENTRY}/atom_probe/ranging/ion_type", (n,), np.uint16,
                                      chunks=ck, **kw)  # fmt: skip
        for start in range(0, n, chunk):
            c = ions.chunk(start, start + chunk)
            stop = start + c.n_ions
            d_xyz[start:stop] = c.xyz
            mq = c.mq
            d_mq[start:stop] = mq
            for name, d in d_cols.items():
                d[start:stop] = c.columns[name]
            if d_type is not None:
                d_type[start:stop] = (label_ions(mq, ranges, by="ion") + 1).astype(np.uint16)
            if progress is not None:
                progress(stop)


def _write_ranges(f, ranges, ions: IonData) -> None:
    dist = _group(f, f"{ENTRY}/atom_probe/ranging/mass_to_charge_distribution")
    lo_mq, hi_mq = 0.0, 0.0
    if ions.n_ions:
        lo_mq, hi_mq = float(np.nanmin(ions.mq)), float(np.nanmax(ions.mq))
    dist["min_mass_to_charge"] = lo_mq
    dist["max_mass_to_charge"] = hi_mq
    dist["n_mass_to_charge"] = ions.n_ions
    peaks = _group(f, PEAKS)
    peaks["number_of_ion_types"] = len(ranges.ions) + 1
    g0 = peaks.create_group("ion0")
    g0.attrs["NX_class"] = "NXion"
    g0["name"] = "unknown"
    g0["nuclide_hash"] = np.zeros(32, np.uint16)
    g0["charge_state"] = np.int8(0)
    for k, ion in enumerate(ranges.ions, 1):
        idx = [i for i, nm in enumerate(ranges.name) if nm == ion]
        first = idx[0]
        g = peaks.create_group(f"ion{k}")
        g.attrs["NX_class"] = "NXion"
        g["name"] = ion
        h = nuclide_hash(ranges.composition[first])
        g["nuclide_hash"] = h
        nl = np.zeros((32, 2), np.uint16)
        nl[:, 1] = h % 256  # Z; mass number 0 = unspecified isotope
        g["nuclide_list"] = nl
        g["charge_state"] = np.int8(ranges.charge[first])
        mr = g.create_dataset("mass_to_charge_range", data=np.c_[ranges.lo[idx], ranges.hi[idx]])
        mr.attrs["units"] = "Da"
        g["color"] = ranges.color[first]
        g["composition"] = ",".join(f"{a}:{b}" for a, b in ranges.composition[first].items())
        if np.isfinite(ranges.volume[first]):
            g["volume"] = ranges.volume[first]


def read_nxapm(path: str | os.PathLike) -> IonData:
    """Open an NXapm file written by us or pynxtools-apm; datasets are read when asked for."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except Exception as err:
        raise APTFormatError(path, 0, f"not a readable HDF5 file: {err}") from None
    try:
        return _open_nxapm(path, f)
    except APTFormatError:
        raise
    except Exception as err:  # h5py raises OSError, RuntimeError, KeyError... on damaged files
        raise APTFormatError(path, 0, f"damaged NXapm file: {err}") from None


def _open_nxapm(path, f) -> IonData:
    import h5py

    with f:
        entries = [k for k in f if k.startswith("entry")]
        if not entries:
            raise APTFormatError(path, 0, "no /entry group: not an NXapm file")
        entry = entries[0]
        pos = f"{entry}/atom_probe/reconstruction/reconstructed_positions"
        mq = f"{entry}/atom_probe/mass_to_charge_conversion/mass_to_charge"
        if mq not in f:
            raise APTFormatError(path, 0, f"no dataset /{mq}")
        n = f[mq].shape[0]
        present = {k: f"{entry}/{rel}" for k, (rel, _) in COLUMNS.items() if f"{entry}/{rel}" in f}
        itype = f"{entry}/atom_probe/ranging/ion_type"
        if itype in f:
            present["ion_type"] = itype
        has_pos = pos in f

    def ds(p: str):
        def load(sl):
            try:
                with h5py.File(path, "r") as h:
                    return h[p][sl]
            except Exception as err:  # any HDF5 failure on a damaged file
                raise APTFormatError(path, 0, f"cannot read /{p}: {err}") from None

        return load

    core = {"mq": ds(mq)}
    if has_pos:
        core["xyz"] = ds(pos)
    extra = {k: ds(p) for k, p in present.items()}
    return IonData(n, str(path), "nxapm", {"entry": entry}, LazyColumns(core, n),
                   LazyColumns(extra, n))  # fmt: skip


def read_nxapm_ranges(path: str | os.PathLike):
    """The ranging definitions of an NXapm file as a RangeTable (ion0 is skipped)."""
    import h5py

    from bigmax.techniques.apt.ranges import RangeTable

    lo, hi, comp, names, charge, color = [], [], [], [], [], []
    with h5py.File(path, "r") as f:
        peaks = f.get(PEAKS)
        if peaks is None:
            raise APTFormatError(path, 0, f"no /{PEAKS} group")
        keys = sorted((k for k in peaks if k.startswith("ion") and k != "ion0"),
                      key=lambda k: int(k[3:]))  # fmt: skip
        for k in keys:
            g = peaks[k]
            name = g["name"][()].decode() if isinstance(g["name"][()], bytes) else g["name"][()]
            text = g["composition"][()] if "composition" in g else b""
            text = text.decode() if isinstance(text, bytes) else text
            c = {a: int(b) for a, b in (t.split(":") for t in text.split(",") if t)}
            col = g["color"][()] if "color" in g else b""
            for a, b in g["mass_to_charge_range"][()]:
                lo.append(a)
                hi.append(b)
                comp.append(c)
                names.append(str(name))
                charge.append(int(g["charge_state"][()]))
                color.append(col.decode() if isinstance(col, bytes) else str(col))
    return RangeTable(lo, hi, comp, names, charge, None, color, str(path))
