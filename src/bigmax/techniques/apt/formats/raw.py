"""APyT / Stuttgart TAP ``.raw`` detector events: headerless 32-byte little-endian records.

Fields: U_base, U_pulse, U_reflectron (float32, V), x_det, y_det (float32, mm), tof (float32,
ns), epoch (int32), pulse number (uint32). There is no reconstruction and no m/q yet: those
come from calibration, so ``xyz`` and ``mq`` raise.
"""

from __future__ import annotations

import os

from bigmax.techniques.apt.formats._common import record_memmap
from bigmax.techniques.apt.ions import IonData, LazyColumns

FIELDS = (
    ("v_dc", "<f4", "V"),
    ("v_pulse", "<f4", "V"),
    ("v_reflectron", "<f4", "V"),
    ("det_x", "<f4", "mm"),
    ("det_y", "<f4", "mm"),
    ("tof", "<f4", "ns"),
    ("epoch", "<i4", "s"),
    ("pulse_number", "<u4", ""),
)


def read_raw(path: str | os.PathLike) -> IonData:
    """Map a raw detector-event file; every column is a zero-copy view of the records."""
    words, n = record_memmap(path, 0, 32)

    def col(i: int, dtype: str):
        return lambda sl: words[sl, i].view(dtype)

    extra = {name: col(i, dt) for i, (name, dt, _) in enumerate(FIELDS)}
    meta = {"units": {name: u for name, _, u in FIELDS if u}}
    return IonData(n, str(path), "raw", meta, LazyColumns({}, n), LazyColumns(extra, n))
