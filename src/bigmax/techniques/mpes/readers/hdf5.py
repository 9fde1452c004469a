"""HDF5 event files: the FHI METIS format and a generic one-dataset-per-column layout.

METIS (SPECS/Surface Concept DLD, as written at FHI Berlin): the root holds ``Stream_0`` ..
``Stream_N``, one 1-D dataset per event field, each with a ``Name`` attribute, plus
``msMarkers`` (the index of the first event of every millisecond) and the attribute
``FirstEventTimeStamp``. Columns are named as sed's mpes loader aliases them:

=========  ==============  ======  =====================================
dataset    ``Name`` attr   column  meaning
=========  ==============  ======  =====================================
Stream_0   X               X       detector x (uint16, steps)
Stream_1   Y               Y       detector y (uint16, steps)
Stream_2   t               t       time of flight (uint32, steps)
Stream_3   MasterRstCtr    MasterRstCtr  master reset counter (uint8)
Stream_4   ADC             ADC     delay-stage / ADC channel (uint16)
Stream_5   State Input     StateInput    sign counter (uint8)
=========  ==============  ======  =====================================

A derived column ``timeStamps`` (float64, Unix seconds) interpolates the millisecond markers
between events, as sed does; it is computed only when asked for.

Generic HDF5: every 1-D numeric dataset whose length is the most common one in the file is a
column, named by its path (``/`` kept, leading ``/`` dropped).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from pathlib import Path

import numpy as np

from bigmax.techniques.mpes.readers.base import EventFileReader, MPESFormatError

_METIS_NAMES = {
    "X": "X",
    "Y": "Y",
    "t": "t",
    "ADC": "ADC",
    "MasterRstCtr": "MasterRstCtr",
    "State Input": "StateInput",
}
_METIS_UNITS = {"X": "step", "Y": "step", "t": "step", "ADC": "step", "timeStamps": "s"}
#: The duration of one METIS marker interval (msMarkers: one per millisecond).
METIS_MARKER_PERIOD_S = 1e-3


def _open(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise MPESFormatError(f"{path}: not a readable HDF5 file ({err})") from err


def _attr_text(value) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _attr_text(value.reshape(-1)[0])
    return str(value)


def _plain(value):
    """An HDF5 attribute as a JSON-friendly Python value."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{value.shape}"
    return value


class _HDF5Reader(EventFileReader):
    """Keeps one h5py handle open between reads; ``close`` drops it."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._h5 = None
        self._datasets: dict[str, str] = {}  # column -> dataset path

    def _file(self):
        if self._h5 is None or not self._h5.id.valid:
            self._h5 = _open(self.path)
        return self._h5

    def close(self) -> None:
        if self._h5 is not None:
            try:
                self._h5.close()
            finally:
                self._h5 = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None
        if "_table" in state:
            state["_table"] = None  # a converted train-resolved table is rebuilt on demand
        return state

    def _read_dataset(self, column: str, start: int, stop: int) -> np.ndarray:
        key = self._datasets[column]
        try:
            return self._file()[key][start:stop]
        except (OSError, KeyError) as err:
            raise MPESFormatError(
                f"{self.path}: dataset {key!r} (column {column!r}) cannot be read: {err}"
            ) from err

    def _read(self, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
        return {c: self._read_dataset(c, start, stop) for c in names}


class MetisReader(_HDF5Reader):
    """FHI METIS single-event HDF5 (``Stream_N`` datasets + ``msMarkers``)."""

    format = "metis"
    label = "FHI METIS HDF5"

    @staticmethod
    def sniff(h5) -> bool:
        return "Stream_0" in h5 and getattr(h5["Stream_0"], "ndim", 0) == 1

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        h5 = self._file()
        streams = sorted(
            (k for k in h5 if k.startswith("Stream_") and k[7:].isdigit()), key=lambda k: int(k[7:])
        )
        if not streams:
            raise MPESFormatError(f"{self.path}: no Stream_N datasets (not a METIS file)")
        lengths = set()
        for key in streams:
            ds = h5[key]
            if ds.ndim != 1:
                raise MPESFormatError(f"{self.path}: dataset {key!r} is not 1-D: {ds.shape}")
            raw = _attr_text(ds.attrs.get("Name", key))
            name = _METIS_NAMES.get(raw, raw.replace(" ", ""))
            if name in self._datasets:
                name = key
            self._datasets[name] = key
            self.columns[name] = ds.dtype
            lengths.add(ds.shape[0])
        if len(lengths) != 1:
            raise MPESFormatError(
                f"{self.path}: Stream_N datasets differ in length: {sorted(lengths)}"
            )
        self.n_events = int(lengths.pop())
        self.metadata = {k: _plain(v) for k, v in h5.attrs.items()}
        self.metadata["datasets"] = dict(self._datasets)
        self._markers: np.ndarray | None = None
        self._t0: float | None = None
        if "msMarkers" in h5:
            n_ms = int(h5["msMarkers"].shape[0])
            self.metadata["acquisition_time_s"] = n_ms * METIS_MARKER_PERIOD_S
            stamp = h5.attrs.get("FirstEventTimeStamp")
            if stamp is not None:
                try:
                    when = _dt.datetime.fromisoformat(_attr_text(stamp))
                    self._t0 = when.timestamp()
                except ValueError:
                    self._t0 = None
            if self._t0 is not None and n_ms > 0:
                self.columns["timeStamps"] = np.dtype(np.float64)
        self.units = {c: u for c, u in _METIS_UNITS.items() if c in self.columns}

    def ms_markers(self) -> np.ndarray:
        """The event index at which each millisecond starts (read once, then cached)."""
        if self._markers is None:
            try:
                self._markers = np.asarray(self._file()["msMarkers"][()], dtype=np.int64)
            except (OSError, KeyError) as err:
                raise MPESFormatError(
                    f"{self.path}: dataset 'msMarkers' unreadable: {err}"
                ) from err
        return self._markers

    def _read(self, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for c in names:
            if c == "timeStamps":
                markers = self.ms_markers()
                times = self._t0 + np.arange(len(markers)) * METIS_MARKER_PERIOD_S
                out[c] = np.interp(np.arange(start, stop, dtype=np.float64), markers, times)
            else:
                out[c] = self._read_dataset(c, start, stop)
        return out


class GenericHDF5Reader(_HDF5Reader):
    """Any HDF5 file with one equal-length 1-D dataset per column."""

    format = "hdf5"
    label = "HDF5 (one dataset per column)"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        import h5py

        h5 = self._file()
        found: list[tuple[str, h5py.Dataset]] = []

        def visit(name, obj):
            if (
                isinstance(obj, h5py.Dataset)
                and obj.ndim == 1
                and obj.dtype.kind in "iufb"
                and obj.shape[0] > 0
            ):
                found.append((name, obj))

        h5.visititems(visit)
        if not found:
            raise MPESFormatError(f"{self.path}: no non-empty 1-D numeric dataset to read")
        n, _ = Counter(ds.shape[0] for _, ds in found).most_common(1)[0]
        self.n_events = int(n)
        for name, ds in found:
            if ds.shape[0] == n:
                self._datasets[name] = name
                self.columns[name] = ds.dtype
                unit = ds.attrs.get("units", ds.attrs.get("unit"))
                if unit is not None:
                    self.units[name] = _attr_text(unit)
        self.metadata = {k: _plain(v) for k, v in h5.attrs.items()}
