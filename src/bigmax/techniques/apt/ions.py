"""The in-memory ion table every APT reader returns: lazy, float32, memory-mapped where it can be.

A 10^8-ion file is 1.6-4.4 GB, so a reader only maps the records and converts a column (from
big-endian, from Angstrom, ...) the first time it is asked for; columns nobody reads cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["APTFormatError", "IonData", "LazyColumns"]


class APTFormatError(ValueError):
    """A binary APT file that cannot be what it claims (truncated, wrong record size, bad magic).

    The message names the file and the byte offset where the reader gave up.
    """

    def __init__(self, path: object, offset: int, message: str) -> None:
        self.path = str(path)
        self.offset = int(offset)
        super().__init__(f"{self.path}: at byte {self.offset}: {message}")


Loader = Callable[[slice], np.ndarray]


class LazyColumns(Mapping):
    """Columns computed on first access from a loader that takes a slice of the ions.

    Slicing (``sub(start, stop)``) makes a new lazy view without reading anything, which is how
    ``iter_chunks`` walks a file out of core.
    """

    def __init__(self, loaders: Mapping[str, Loader], n: int, sl: slice | None = None) -> None:
        self._loaders = dict(loaders)
        self._n = int(n)
        self._slice = sl if sl is not None else slice(0, self._n)
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            if key not in self._loaders:
                raise KeyError(key)
            self._cache[key] = self._loaders[key](self._slice)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def __repr__(self) -> str:
        return f"LazyColumns({list(self._loaders)}, loaded={list(self._cache)})"

    def sub(self, start: int, stop: int) -> LazyColumns:
        base = self._slice.start or 0
        return LazyColumns(self._loaders, self._n, slice(base + start, base + stop))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n: int) -> LazyColumns:
        def view(a: np.ndarray) -> Loader:
            return lambda sl: a[sl]

        return cls({k: view(np.asarray(v)) for k, v in arrays.items()}, n)


@dataclass(eq=False)
class IonData:
    """Reconstructed ions: positions (nm), mass-to-charge (Da) and whatever else the file holds.

    ``xyz`` (n, 3) and ``mq`` (n,) are float32 and computed lazily from the file; ``columns`` holds
    the other per-ion columns in their native dtypes (``tof``, ``v_dc``, ``v_pulse``, ``det_x``,
    ``det_y``, ``delta_pulse``, ``multiplicity``, ...). Build one from arrays with
    ``IonData.from_arrays(xyz, mq, columns=...)``.
    """

    n_ions: int
    source: str = ""
    format: str = ""
    metadata: dict = field(default_factory=dict)
    _core: LazyColumns | None = field(default=None, repr=False)
    _extra: LazyColumns | None = field(default=None, repr=False)

    @classmethod
    def from_arrays(
        cls,
        xyz: np.ndarray,
        mq: np.ndarray,
        columns: Mapping[str, np.ndarray] | None = None,
        *,
        source: str = "",
        format: str = "arrays",
        metadata: dict | None = None,
    ) -> IonData:
        xyz = np.asarray(xyz, dtype=np.float32)
        mq = np.asarray(mq, dtype=np.float32)
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise ValueError(f"xyz: expected shape (n, 3), got {xyz.shape}")
        if mq.shape != (len(xyz),):
            raise ValueError(f"mq: expected shape ({len(xyz)},), got {mq.shape}")
        columns = dict(columns or {})
        for name, col in columns.items():
            if len(col) != len(xyz):
                raise ValueError(f"column {name!r}: length {len(col)} != {len(xyz)} ions")
        n = len(xyz)
        return cls(
            n,
            source,
            format,
            dict(metadata or {}),
            LazyColumns.from_arrays({"xyz": xyz, "mq": mq}, n),
            LazyColumns.from_arrays(columns, n),
        )

    def __len__(self) -> int:
        return self.n_ions

    @property
    def xyz(self) -> np.ndarray:
        if self._core is None or "xyz" not in self._core:
            raise APTFormatError(
                self.source, 0, f"{self.format} file has no reconstructed positions"
            )
        return self._core["xyz"]

    @property
    def mq(self) -> np.ndarray:
        if self._core is None or "mq" not in self._core:
            raise APTFormatError(self.source, 0, f"{self.format} file has no mass-to-charge column")
        return self._core["mq"]

    @property
    def has_positions(self) -> bool:
        return self._core is not None and "xyz" in self._core

    @property
    def columns(self) -> Mapping[str, np.ndarray]:
        return self._extra if self._extra is not None else {}

    def chunk(self, start: int, stop: int) -> IonData:
        """Ions start..stop as a new lazy IonData (nothing is read until a column is asked for)."""
        stop = min(stop, self.n_ions)
        return IonData(
            max(stop - start, 0),
            self.source,
            self.format,
            dict(self.metadata, chunk=(start, stop)),
            self._core.sub(start, stop) if self._core is not None else None,
            self._extra.sub(start, stop) if self._extra is not None else None,
        )
