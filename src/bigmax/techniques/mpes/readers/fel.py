"""Train-resolved HDF5 files from free-electron lasers and the CFEL lab, as electron tables.

FEL DAQ files store a fixed-size, padded block of detector hits per machine train. These readers
turn them into one row per electron, add ``trainId``/``pulseId``/``electronId``, and broadcast
the per-train and per-pulse machine channels onto the electrons. The layouts and channel names
follow sed's loader configurations (OpenCOMPES/sed ``tests/data/loader/*/config.yaml``):

FLASH (HEXTOF at PG2; DOOCS DAQ): every channel is a group with ``index`` (train ids) and
``value``. ``/uncategorised/FLASH.EXP/HEXTOF.DAQ/DLD1/value`` has shape (trains, 5, hits),
NaN-padded: slice 0 = dldPosY, 1 = dldPosX, 2 = pulseId (raw; the ``ubid_offset`` 5 is
subtracted), 3 = dldTimeSteps (its low 3 bits are the DLD sector, split off into
``dldSectorID``), 4 = the auxiliary channel, one vector per train (0 sampleBias, 1 tofVoltage,
2 extractorVoltage, 3 extractorCurrent, 4 cryoTemperature, 5 sampleTemperature, 15
dldTimeBinSize). Per train: timeStamp (``TIMINGINFO/TIME1.BUNCH_FIRST_INDEX.1/time``),
delayStage (``F1.PG.OSC/FMC0.MD22.1.ENCODER_POSITION.RD``). Per pulse: pulserSignAdc
(``SIS8300 100MHz ADC/CH6/TD``), gmdTunnel (GMD pulse energy, slice 0).

EuXFEL SXP (``RAW-R*-DA03-S*.h5``): ``INSTRUMENT/SXP_TR_XPES/DET/MCP_DETECTOR:output/data``
holds (trains, 1000) arrays x, y, t, starterCounter (the pulse), masterCounter, indexed by its
``trainId``; the first 500 hits per train are used (sed's ``max_hits``) and a hit with t == 0
is padding. Per train (indexed by ``INDEX/trainId``): timeStamp (``INDEX/timestamp``, ns ->
s) and delayStage (``OPTICALDELAY_PP800/actualPosition``). Unlike sed's example config (which
calls masterCounter ``trainId``), ``trainId`` here is the detector's train id and the counter
keeps its name.

CFEL (HEXTOF lab): ``DLD/DLD/{xPos,yPos,times}`` are already one row per electron;
``DLD/NumOfEvents`` is the cumulative event count at the end of each slow-data step, which
maps ``SlowData`` channels (exposure_time, the aux vector, kmic1 voltages) onto the
electrons; timeStamp = ``ScanParam/StartTime`` + the exposure of the steps before.

Per-train channels are forward-filled (the last value at or before the electron's train);
per-pulse channels are looked up at (train, pulseId) and are NaN where the DAQ has no value.
A train-resolved file is converted whole on its first read and kept until ``close()``; the
event count needs only one hit channel. Convert once to Parquet for repeated analysis.
"""

from __future__ import annotations

import datetime as _dt
from abc import abstractmethod
from pathlib import Path

import numpy as np

from bigmax.techniques.mpes.readers.base import MPESFormatError
from bigmax.techniques.mpes.readers.hdf5 import _attr_text, _HDF5Reader

FLASH_DLD = "uncategorised/FLASH.EXP/HEXTOF.DAQ/DLD1"
FLASH_UBID_OFFSET = 5
SECTOR_BITS = 3
AUX_CHANNELS = {
    "sampleBias": 0,
    "tofVoltage": 1,
    "extractorVoltage": 2,
    "extractorCurrent": 3,
    "cryoTemperature": 4,
    "sampleTemperature": 5,
    "dldTimeBinSize": 15,
}
FEL_UNITS = {
    "dldPosX": "step",
    "dldPosY": "step",
    "dldTimeSteps": "step",
    "sampleBias": "V",
    "tofVoltage": "V",
    "extractorVoltage": "V",
    "extractorCurrent": "A",
    "cryoTemperature": "K",
    "sampleTemperature": "K",
    "timeStamp": "s",
    "dldTimeBinSize": "ns",
}
# name -> (group, slice or None); per train (forward-filled) and per pulse (looked up).
FLASH_PER_TRAIN = {
    "timeStamp": ("uncategorised/FLASH.DIAG/TIMINGINFO/TIME1.BUNCH_FIRST_INDEX.1", None),
    "delayStage": (
        "zraw/FLASH.SYNC/LASER.LOCK.EXP/F1.PG.OSC/FMC0.MD22.1.ENCODER_POSITION.RD/dGroup",
        None,
    ),
}
FLASH_PER_PULSE = {
    "pulserSignAdc": ("FL1/Experiment/PG/SIS8300 100MHz ADC/CH6/TD", None),
    "gmdTunnel": ("FL1/Photon Diagnostic/GMD/Pulse resolved energy/energy tunnel", 0),
}
SXP_DET = "INSTRUMENT/SXP_TR_XPES/DET/MCP_DETECTOR:output/data"
SXP_MAX_HITS = 500
SXP_PER_TRAIN = {
    "delayStage": "CONTROL/SCS_ILH_LAS/MDL/OPTICALDELAY_PP800/actualPosition/value",
}
CFEL_SLOW = {
    "exposureTime": "SlowData/exposure_time",
    "vuRead": "SlowData/hextof/logic/kmic1/Sample_VURead",
}


def forward_fill(index: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values at the last index <= each ``at`` (NaN before the first); index need not be sorted."""
    order = np.argsort(index, kind="stable")
    index, values = index[order], values[order]
    pos = np.searchsorted(index, at, side="right") - 1
    picked = values[np.clip(pos, 0, max(len(values) - 1, 0))]
    out = picked.astype(np.result_type(values, np.float32))
    out[pos < 0] = np.nan
    return out


def electron_ids(train: np.ndarray, pulse: np.ndarray) -> np.ndarray:
    """Running count of electrons within each consecutive (train, pulse) run."""
    n = len(train)
    if n == 0:
        return np.empty(0, np.uint16)
    change = np.ones(n, bool)
    change[1:] = (train[1:] != train[:-1]) | (pulse[1:] != pulse[:-1])
    ar = np.arange(n)
    start = np.maximum.accumulate(np.where(change, ar, 0))
    return (ar - start).astype(np.uint16)


def _split_sector(tsteps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore"):
        raw = tsteps.astype(np.int64)
    return (raw >> SECTOR_BITS).astype(np.uint32), (raw & ((1 << SECTOR_BITS) - 1)).astype(
        np.uint8
    )


class _TableReader(_HDF5Reader):
    """Builds the electron table on first read; ``close`` drops it."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._table: dict[str, np.ndarray] | None = None
        self._n: int | None = None

    @property
    def n_events(self) -> int:  # type: ignore[override]
        if self._n is None:
            self._n = int(self._count())
        return self._n

    @n_events.setter
    def n_events(self, value: int) -> None:
        self._n = None if value == 0 else value

    def _need(self, key: str):
        h5 = self._file()
        if key not in h5:
            raise MPESFormatError(f"{self.path}: dataset {key!r} missing")
        return h5[key]

    @abstractmethod
    def _count(self) -> int:
        """Electrons in the file, counted without building the table."""

    @abstractmethod
    def _build(self) -> dict[str, np.ndarray]:
        """The whole electron-resolved table (FEL files are converted once, on first read)."""

    def _read(self, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
        if self._table is None:
            with np.errstate(invalid="ignore", over="ignore"):  # damaged values stay damaged
                table = self._build()
                self._table = {
                    c: np.ascontiguousarray(table[c], self.columns[c])
                    for c in self.columns
                    if c in table
                }
        out = {}
        for c in names:
            if c not in self._table:
                self._table[c] = np.ascontiguousarray(self._derived(c), self.columns[c])
            out[c] = self._table[c][start:stop]
        return out

    def _derived(self, column: str) -> np.ndarray:
        """Columns computed only when asked for (none by default)."""
        raise KeyError(column)

    def close(self) -> None:
        self._table = None
        super().close()


class FlashReader(_TableReader):
    """FLASH HEXTOF DAQ HDF5 (train-resolved DLD blocks)."""

    format = "flash"
    label = "FLASH DAQ HDF5"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        value = self._need(f"{FLASH_DLD}/value")
        self._need(f"{FLASH_DLD}/index")
        if value.ndim != 3 or value.shape[1] < 4:
            raise MPESFormatError(
                f"{self.path}: dataset '{FLASH_DLD}/value' has shape {value.shape}, "
                "wanted (trains, >=4 channels, hits)"
            )
        h5 = self._file()
        cols: dict[str, np.dtype] = {
            "trainId": h5[f"{FLASH_DLD}/index"].dtype,
            "pulseId": np.dtype(np.int32),
            "electronId": np.dtype(np.uint16),
            "dldPosX": np.dtype(np.uint16),
            "dldPosY": np.dtype(np.uint16),
            "dldTimeSteps": np.dtype(np.uint32),
            "dldSectorID": np.dtype(np.uint8),
        }
        if value.shape[1] > 4:
            for name, k in AUX_CHANNELS.items():
                if k < value.shape[2]:
                    cols[name] = value.dtype
        for name, (group, _) in {**FLASH_PER_TRAIN, **FLASH_PER_PULSE}.items():
            key = self._value_key(group)
            if key is not None:
                cols[name] = h5[key].dtype
        self.columns = cols
        self.units = {c: u for c, u in FEL_UNITS.items() if c in cols}
        self.metadata = {"n_trains": int(value.shape[0]), "max_hits": int(value.shape[2])}

    def _value_key(self, group: str) -> str | None:
        h5 = self._file()
        for leaf in ("value", "time"):
            if f"{group}/{leaf}" in h5 and f"{group}/index" in h5:
                return f"{group}/{leaf}"
        return None

    def _hits(self, value) -> np.ndarray:
        """Valid hits: y, x, pulse and time all finite (NaN is the DAQ's padding)."""
        return np.isfinite(value[:, :4, :]).all(axis=1)

    def _count(self) -> int:
        return int(np.count_nonzero(self._hits(self._file()[f"{FLASH_DLD}/value"])))

    def _build(self) -> dict[str, np.ndarray]:
        h5 = self._file()
        value = h5[f"{FLASH_DLD}/value"]
        trains = h5[f"{FLASH_DLD}/index"][()]
        tof = value[:, 3, :]
        valid = self._hits(value)
        ti = np.nonzero(valid)[0]
        out: dict[str, np.ndarray] = {"trainId": trains[ti]}
        pulse_raw = value[:, 2, :][valid]
        out["pulseId"] = pulse_raw.astype(np.int64) - FLASH_UBID_OFFSET
        out["electronId"] = electron_ids(out["trainId"], out["pulseId"])
        out["dldPosX"] = value[:, 1, :][valid]
        out["dldPosY"] = value[:, 0, :][valid]
        out["dldTimeSteps"], out["dldSectorID"] = _split_sector(tof[valid])
        if "sampleBias" in self.columns:
            aux = value[:, 4, :]
            for name, k in AUX_CHANNELS.items():
                if name in self.columns:
                    out[name] = aux[ti, k]
        for name, (group, _) in FLASH_PER_TRAIN.items():
            if name in self.columns:
                key = self._value_key(group)
                out[name] = forward_fill(h5[f"{group}/index"][()], h5[key][()], out["trainId"])
        for name, (group, sl) in FLASH_PER_PULSE.items():
            if name in self.columns:
                key = self._value_key(group)
                vals = h5[key][()]
                if sl is not None and vals.ndim == 3:
                    vals = vals[:, sl, :]
                out[name] = self._per_pulse(h5[f"{group}/index"][()], vals, out)
        return out

    @staticmethod
    def _per_pulse(index: np.ndarray, vals: np.ndarray, out: dict) -> np.ndarray:
        vals = vals.reshape(len(index), -1)
        order = np.argsort(index, kind="stable")
        index, vals = index[order], vals[order]
        row = np.searchsorted(index, out["trainId"])
        row_ok = row < len(index)
        row_ok[row_ok] = index[row[row_ok]] == out["trainId"][row_ok]
        col = out["pulseId"]
        ok = row_ok & (col >= 0) & (col < vals.shape[1])
        res = np.full(len(col), np.nan, dtype=np.result_type(vals, np.float32))
        res[ok] = vals[row[ok], col[ok]]
        return res


class SXPReader(_TableReader):
    """EuXFEL SXP HDF5 (train-resolved MCP detector hits)."""

    format = "sxp"
    label = "EuXFEL SXP HDF5"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        for leaf in ("x", "y", "t", "trainId"):
            self._need(f"{SXP_DET}/{leaf}")
        h5 = self._file()
        det = h5[SXP_DET]
        if det["t"].ndim != 2:
            raise MPESFormatError(f"{self.path}: dataset '{SXP_DET}/t' is not (trains, hits)")
        cols: dict[str, np.dtype] = {
            "trainId": det["trainId"].dtype,
            "pulseId": det["starterCounter"].dtype if "starterCounter" in det else None,
            "masterCounter": det["masterCounter"].dtype if "masterCounter" in det else None,
            "electronId": np.dtype(np.uint16),
            "dldPosX": det["x"].dtype,
            "dldPosY": det["y"].dtype,
            "dldTimeSteps": det["t"].dtype,
        }
        cols = {k: v for k, v in cols.items() if v is not None}
        if "INDEX/trainId" in h5:
            if "INDEX/timestamp" in h5:
                cols["timeStamp"] = np.dtype(np.float64)
            for name, key in SXP_PER_TRAIN.items():
                if key in h5:
                    cols[name] = h5[key].dtype
        self.columns = cols
        self.units = {c: u for c, u in FEL_UNITS.items() if c in cols}
        self.metadata = {"n_trains": int(det["t"].shape[0]), "max_hits": SXP_MAX_HITS}

    def _count(self) -> int:
        return int(np.count_nonzero(self._file()[f"{SXP_DET}/t"][:, :SXP_MAX_HITS]))

    def _build(self) -> dict[str, np.ndarray]:
        h5 = self._file()
        det = h5[SXP_DET]
        t = det["t"][:, :SXP_MAX_HITS]
        valid = t != 0
        ti = np.nonzero(valid)[0]
        out: dict[str, np.ndarray] = {"trainId": det["trainId"][()][ti], "dldTimeSteps": t[valid]}
        out["dldPosX"] = det["x"][:, :SXP_MAX_HITS][valid]
        out["dldPosY"] = det["y"][:, :SXP_MAX_HITS][valid]
        if "pulseId" in self.columns:
            out["pulseId"] = det["starterCounter"][:, :SXP_MAX_HITS][valid]
        if "masterCounter" in self.columns:
            out["masterCounter"] = det["masterCounter"][:, :SXP_MAX_HITS][valid]
        out["electronId"] = electron_ids(out["trainId"], out.get("pulseId", out["trainId"]))
        if "INDEX/trainId" in h5:
            index = h5["INDEX/trainId"][()]
            if "timeStamp" in self.columns:
                stamps = h5["INDEX/timestamp"][()].astype(np.float64) * 1e-9
                out["timeStamp"] = forward_fill(index, stamps, out["trainId"])
            for name, key in SXP_PER_TRAIN.items():
                if name in self.columns:
                    out[name] = forward_fill(index, h5[key][()], out["trainId"])
        return out


class CFELReader(_TableReader):
    """CFEL HEXTOF lab HDF5 (event-resolved DLD with slow-data steps)."""

    format = "cfel"
    label = "CFEL HEXTOF HDF5"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        times = self._need("DLD/DLD/times")
        self._need("DLD/DLD/xPos")
        self._need("DLD/DLD/yPos")
        h5 = self._file()
        cols: dict[str, np.dtype] = {
            "dldPosX": h5["DLD/DLD/xPos"].dtype,
            "dldPosY": h5["DLD/DLD/yPos"].dtype,
            "dldTimeSteps": np.dtype(np.uint32),
            "dldSectorID": np.dtype(np.uint8),
        }
        self._steps = "DLD/NumOfEvents" in h5
        if self._steps:
            cols["stepId"] = np.dtype(np.uint32)
            aux = h5.get("SlowData/hextof/dld/info/Aux")
            if aux is not None and aux.ndim == 2:
                for name, k in AUX_CHANNELS.items():
                    if k < aux.shape[1]:
                        cols[name] = aux.dtype
            for name, key in CFEL_SLOW.items():
                if key in h5:
                    cols[name] = h5[key].dtype
            if "SlowData/exposure_time" in h5 and "ScanParam/StartTime" in h5:
                cols["timeStamp"] = np.dtype(np.float64)
        self.columns = cols
        self.units = {c: u for c, u in {**FEL_UNITS, "exposureTime": "s"}.items() if c in cols}
        self.n_events = int(times.shape[0])
        self.metadata = {}
        if "SlowData/exposure_time" in h5:
            exposure = h5["SlowData/exposure_time"][()]
            if exposure.ndim == 1 and exposure.dtype.kind in "iuf":
                self.metadata["acquisition_time_s"] = float(np.nansum(exposure))

    def _count(self) -> int:
        return int(self._file()["DLD/DLD/times"].shape[0])

    def _build(self) -> dict[str, np.ndarray]:
        h5 = self._file()
        out: dict[str, np.ndarray] = {
            "dldPosX": h5["DLD/DLD/xPos"][()],
            "dldPosY": h5["DLD/DLD/yPos"][()],
        }
        out["dldTimeSteps"], out["dldSectorID"] = _split_sector(h5["DLD/DLD/times"][()])
        if self._steps:
            ends = h5["DLD/NumOfEvents"][()].astype(np.int64)
            n_steps = max(len(ends), 1)
            step = np.searchsorted(ends, np.arange(len(out["dldPosX"])), side="right")
            step = np.minimum(step, n_steps - 1)
            out["stepId"] = step
            if "sampleBias" in self.columns:
                aux = h5["SlowData/hextof/dld/info/Aux"][()]
                for name, k in AUX_CHANNELS.items():
                    if name in self.columns:
                        out[name] = aux[np.minimum(step, len(aux) - 1), k]
            for name, key in CFEL_SLOW.items():
                if name in self.columns:
                    vals = h5[key][()]
                    out[name] = vals[np.minimum(step, len(vals) - 1)]
        return out

    def _derived(self, column: str) -> np.ndarray:
        # Variable-length strings are read only here: HDF5 can hang on a damaged global heap,
        # so a file is not touched there unless its time stamps are asked for.
        if column != "timeStamp":
            raise KeyError(column)
        h5 = self._file()
        start = _dt.datetime.fromisoformat(_attr_text(h5["ScanParam/StartTime"][0]))
        exposure = h5["SlowData/exposure_time"][()].astype(np.float64)
        begins = start.timestamp() + np.concatenate([[0.0], np.cumsum(exposure)[:-1]])
        step = self._read(0, self.n_events, ["stepId"])["stepId"].astype(np.int64)
        return begins[np.minimum(step, len(begins) - 1)]
