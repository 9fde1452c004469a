"""Archive reader for photoemission event files and NXmpes cubes.

An event file (FHI METIS, FLASH, EuXFEL SXP, CFEL HDF5, or a BigMax Parquet event store)
becomes one entry: the instrument, the event count, the acquisition time and count rate, the
columns, a few machine settings, and the time-of-flight histogram (<= 2000 points) so the GUI
can draw the spectrum without the file. A NeXus file with ``/entry/definition == NXmpes``
(the binned cube that ``bigmax mpes bin`` writes) becomes one entry with its shape, axes and
the energy distribution curve summed over the other axes.

Entry point (group ``bigmax.readers``): ``mpes = "bigmax.io.mpes:MPESReader"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from bigmax.io.base import Parsed, ReaderError
from bigmax.schema import Results
from bigmax.schema.experiment import Experiment, SummaryCurve
from bigmax.schema.properties import ScalarQuantity

TECHNIQUE = "multidimensional photoemission"
MAX_CURVE_POINTS = 2000
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: The time-of-flight column of each event format.
TOF_COLUMNS = ("t", "dldTimeSteps", "tof", "TOF")
INSTRUMENTS = {
    "metis": "FHI Berlin momentum microscope (SPECS METIS 1000)",
    "flash": "FLASH HEXTOF momentum microscope (PG2)",
    "sxp": "European XFEL SXP time-resolved XPES",
    "cfel": "CFEL HEXTOF lab momentum microscope",
}
#: Names that show a layout in an HDF5 file's first bytes (any tuple fully present).
HEAD_MARKS = (
    (b"Stream_0",),
    (b"CAClientMajorVersion", b"KTOF:"),
    (b"uncategorised", b"FL1"),
    (b"FLASH.EXP",),
    (b"INDEX", b"INSTRUMENT", b"CONTROL"),
    (b"DLD", b"ScanParam", b"SlowData"),
    (b"NXmpes",),
)
#: METIS header attributes worth a summary number: attribute -> (key, unit).
METIS_SETTINGS = {
    "KTOF:Lens:Sample:V": ("sample_bias", "V"),
    "KTOF:Lens:Extr:V": ("extractor_voltage", "V"),
    "KTOF:Lens:TOF:V": ("tof_voltage", "V"),
    "trARPES:DelayStage:Pos": ("delay_stage_position", "mm"),
    "trARPES:Carving:TEMP_RBV": ("sample_temperature", "K"),
}


def _nxmpes(path: Path) -> bool:
    import h5py

    with h5py.File(path, "r") as h5:
        for name in h5:
            obj = h5.get(name)
            if not isinstance(obj, h5py.Group):
                continue
            if "definition" in obj and isinstance(obj["definition"], h5py.Dataset):
                value = obj["definition"][()]
                text = value.decode() if isinstance(value, bytes) else str(value)
                if text.startswith("NXmpes"):
                    return True
    return False


def tof_histogram(source, column: str, max_points: int = MAX_CURVE_POINTS):
    """One streamed pass: counts on integer-aligned bins over the 0.1-99.9 % range of the first
    chunk (widened by 5 %); events outside are counted, not drawn. Returns (centres, counts,
    outside)."""
    edges = None
    counts = None
    outside = 0
    for chunk in source.iter_chunks([column], chunk_events=2**21):
        v = chunk.data[column]
        v = v[np.isfinite(v)] if v.dtype.kind == "f" else v
        if edges is None:
            if len(v) == 0:
                continue
            lo, hi = np.quantile(v, [0.001, 0.999]).astype(float)
            pad = 0.05 * max(hi - lo, 1.0)
            lo, hi = lo - pad, hi + pad
            if v.dtype.kind in "iu":
                lo, hi = np.floor(lo), np.ceil(hi) + 1
                width = max(1.0, np.ceil((hi - lo) / max_points))
                n = int(np.ceil((hi - lo) / width))
                edges = lo + width * np.arange(n + 1)
            else:
                edges = np.linspace(lo, hi, max_points + 1)
            counts = np.zeros(len(edges) - 1, np.int64)
        h, _ = np.histogram(v, bins=edges)
        counts += h
        outside += len(v) - int(h.sum())
    if edges is None:
        return np.empty(0), np.empty(0, np.int64), 0
    return 0.5 * (edges[1:] + edges[:-1]), counts, outside


class MPESReader:
    """Photoemission event files and NXmpes cubes -> one experiment entry each."""

    name: ClassVar[str] = "mpes"
    version: ClassVar[str] = "1"
    priority: ClassVar[int] = 30

    def matches(self, path: str, head: bytes) -> bool:
        """HDF5 with a known event layout or an NXmpes entry; Parquet with a BigMax store key.

        Ingest passes the path inside the upload, which may not open from here: then the
        decision rests on names in the first bytes (HDF5 keeps root links and attributes
        there): METIS's EPICS header, FLASH's DAQ groups, EuXFEL's INDEX/INSTRUMENT/CONTROL,
        CFEL's DLD/ScanParam, a NeXus ``NXmpes`` definition.
        """
        p = Path(path)
        if head.startswith(HDF5_MAGIC):
            if p.is_file():
                try:
                    from bigmax.techniques.mpes.readers import _hdf5_layout

                    return _hdf5_layout(p) != "hdf5" or _nxmpes(p)
                except Exception:
                    return False
            return any(all(m in head for m in marks) for marks in HEAD_MARKS)
        if head.startswith(b"PAR1") and p.is_file():
            try:
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(p).metadata.metadata or {}
            except Exception:
                return False
            return b"bigmax.mpes" in meta
        return False

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]:
        """One entry per file; an unreadable file raises ReaderError naming it."""
        from bigmax.techniques.mpes.events import MPESFormatError

        path = Path(path)
        try:
            if path.read_bytes()[:8].startswith(HDF5_MAGIC) and _nxmpes(path):
                experiment = self._cube(path)
            else:
                experiment = self._events(path)
        except MPESFormatError as err:
            raise ReaderError(str(err)) from err
        except OSError as err:
            raise ReaderError(f"{path.name}: not a readable HDF5/Parquet file ({err})") from err
        yield Parsed(None, results=Results(experiment=experiment))

    # -- event files -------------------------------------------------------------------------
    def _events(self, path: Path) -> Experiment:
        from bigmax.techniques.mpes.events import open_events

        source = open_events(path)
        reader = source.files[0]
        meta = reader.metadata
        fmt = reader.format
        if fmt == "parquet":
            instrument = INSTRUMENTS.get(meta.get("source_format", ""), meta.get("instrument"))
            file_format = "BigMax Parquet event store"
        else:
            instrument = INSTRUMENTS.get(fmt, reader.label)
            file_format = reader.label
        summary: dict[str, ScalarQuantity] = {
            "columns": ScalarQuantity(value=", ".join(source.columns)),
        }
        acq = meta.get("acquisition_time_s")
        if acq is None and "timeStamp" in source.columns and source.n_events:
            ts = source.read(["timeStamp"])["timeStamp"]
            ts = ts[np.isfinite(ts)]
            acq = float(ts.max() - ts.min()) if len(ts) > 1 else None
        if acq:
            summary["acquisition_time"] = ScalarQuantity(value=float(acq), unit="s")
            summary["count_rate"] = ScalarQuantity(value=source.n_events / acq, unit="1/s")
        for attr, (key, unit) in METIS_SETTINGS.items():
            if isinstance(meta.get(attr), int | float):
                summary[key] = ScalarQuantity(value=float(meta[attr]), unit=unit)
        for key in ("n_trains", "row_groups"):
            if key in meta:
                summary[key] = ScalarQuantity(value=int(meta[key]))
        curves = []
        tof = next((c for c in TOF_COLUMNS if c in source.columns), None)
        if tof is not None:
            x, y, outside = tof_histogram(source, tof)
            if len(x):
                curves.append(
                    SummaryCurve(
                        title="time-of-flight histogram",
                        x_label=f"{tof} (TOF steps)",
                        y_label="events",
                        x=[float(v) for v in x],
                        y=[float(v) for v in y],
                    )
                )
                summary["tof_events_outside_histogram"] = ScalarQuantity(value=int(outside))
        return Experiment(
            technique=TECHNIQUE,
            instrument=instrument,
            file_format=file_format,
            n_events=source.n_events,
            summary=summary,
            curves=curves,
        )

    # -- NXmpes cubes ------------------------------------------------------------------------
    def _cube(self, path: Path) -> Experiment:
        import h5py

        with h5py.File(path, "r") as h5:
            entry = next(
                (h5[n] for n in h5 if isinstance(h5[n], h5py.Group) and "definition" in h5[n]),
                None,
            )
            data = self._nxdata(entry)
            if data is None:
                raise ReaderError(f"{path.name}: NXmpes entry has no NXdata group with a signal")
            signal_name = _text(data.attrs["signal"])
            if signal_name not in data:
                raise ReaderError(f"{path.name}: NXdata signal {signal_name!r} missing")
            signal = data[signal_name]
            axes = data.attrs.get("axes", [])
            axes = [_text(a) for a in (axes if np.ndim(axes) else [axes])]
            if len(axes) != signal.ndim:
                axes = [f"axis{i}" for i in range(signal.ndim)]
            summary: dict[str, ScalarQuantity] = {
                "shape": ScalarQuantity(value=" x ".join(map(str, signal.shape))),
                "axes": ScalarQuantity(value=", ".join(axes)),
            }
            e_axis = next(
                (i for i, a in enumerate(axes) if a.lower() in ("energy", "e") or "energy" in a),
                None,
            )
            is_energy = e_axis is not None
            if e_axis is None:
                e_axis = signal.ndim - 1
            units = {}
            for a in axes:
                if a in data:
                    units[a] = _text(data[a].attrs.get("units", "")) or None
                    vals = data[a][()]
                    if np.ndim(vals) == 1 and len(vals):
                        summary[f"{a}_range"] = ScalarQuantity(
                            value=f"{float(vals[0]):.6g} .. {float(vals[-1]):.6g}",
                            source_unit=units[a],
                        )
            edc = np.zeros(signal.shape[e_axis])
            total = 0.0
            step = max(1, signal.shape[0] // 16) if signal.ndim > 1 else signal.shape[0]
            for a in range(0, signal.shape[0], step):
                block = np.asarray(signal[a : a + step], dtype=np.float64)
                other = tuple(i for i in range(signal.ndim) if i != e_axis)
                if e_axis == 0:
                    edc[a : a + step] += block.sum(axis=other)
                else:
                    edc += block.sum(axis=other)
                total += float(block.sum())
            summary["total_counts"] = ScalarQuantity(value=total)
            e_name = axes[e_axis]
            x = data[e_name][()] if e_name in data else np.arange(len(edc))
            x, y = _downsample(np.asarray(x, float), edc)
            instrument = None
            for key in (
                "instrument/name",
                "instrument/model",
                "instrument/electronanalyser/description",
            ):
                if key in entry:
                    instrument = _text(entry[key][()])
                    break
            n_events = _cube_events(entry)
            curves = [
                SummaryCurve(
                    title="energy distribution curve" if is_energy else f"counts along {e_name}",
                    x_label=f"{e_name} ({units.get(e_name) or 'a.u.'})",
                    y_label="counts",
                    x=[float(v) for v in x],
                    y=[float(v) for v in y],
                )
            ]
        return Experiment(
            technique=TECHNIQUE,
            instrument=instrument,
            file_format="NeXus NXmpes (HDF5)",
            n_events=n_events,
            summary=summary,
            curves=curves,
        )

    @staticmethod
    def _nxdata(entry):
        if entry is None:
            return None
        if "data" in entry and "signal" in entry["data"].attrs:
            return entry["data"]
        for name in entry:
            obj = entry[name]
            if _text(obj.attrs.get("NX_class", "")) == "NXdata" and "signal" in obj.attrs:
                return obj
        return None


def _cube_events(entry) -> int | None:
    """Events binned into the cube, where the writer recorded them (BigMax's binning
    provenance JSON, or an ``n_events`` field)."""
    import json

    for key in ("n_events", "data/n_events"):
        if key in entry:
            return int(entry[key][()])
    if "process/binning/provenance" in entry:
        try:
            prov = json.loads(_text(entry["process/binning/provenance"][()]))
            return int(prov["n_events_read"])
        except (ValueError, KeyError, TypeError):
            return None
    return None


def _text(value) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _text(value.reshape(-1)[0])
    return str(value)


def _downsample(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= MAX_CURVE_POINTS:
        return x, y
    k = int(np.ceil(len(y) / MAX_CURVE_POINTS))
    n = len(y) // k * k
    return x[:n].reshape(-1, k).mean(axis=1), y[:n].reshape(-1, k).sum(axis=1)
