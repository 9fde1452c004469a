"""The configuration of one MPES processing run, its hierarchy, and sed's config files.

A run needs column names, jitter, the calibrations and the binning axes. They come from four
levels, each overriding the one before: the package defaults (``bigmax/data/mpes/default.yaml``),
the user's file (``~/.config/bigmax/mpes.yaml``, or ``$XDG_CONFIG_HOME/bigmax/mpes.yaml``), the
folder's file (``./bigmax_mpes.yaml``) and the call's arguments. Every level is validated by
the pydantic model as it is merged, so an error names the file (or "call arguments") and the
field, e.g. ``./bigmax_mpes.yaml: energy.calibration.d: Input should be a valid number``.

sed-processor keeps the same facts in its own YAML layout (``dataframe``, ``energy``,
``momentum``, ``delay``, ``binning``/``histogram`` sections). ``from_sed`` and ``to_sed``
translate both ways; any level of the hierarchy may be a sed file (recognised by its
``dataframe`` or ``core`` section). Where sed's numbers live in binned-image units (momentum
feature points, k centre and scale) they are converted with sed's ``momentum.ranges`` and
``momentum.bins``: sed's feature points are (row, column) = (x, y) pixels of its binned
image, ours are (x, y) in detector pixels.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ConfigError",
    "MpesConfig",
    "dump_config",
    "from_sed",
    "load_config",
    "read_yaml",
    "to_sed",
    "user_config_path",
]

FOLDER_FILE = "bigmax_mpes.yaml"


class ConfigError(ValueError):
    """A config source is unreadable or invalid; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Columns(_Model):
    """Event column names (sed's ``dataframe.columns``)."""

    x: str = "X"
    y: str = "Y"
    tof: str = "t"
    adc: str = "ADC"
    bias: str = "sampleBias"
    corrected_x: str = "Xm"
    corrected_y: str = "Ym"
    corrected_tof: str = "tm"
    kx: str = "kx"
    ky: str = "ky"
    energy: str = "energy"
    delay: str = "delay"
    timestamp: str = "timeStamps"
    sector: str = "dldSectorID"


class JitterConfig(_Model):
    columns: list[str] = Field(default_factory=lambda: ["X", "Y", "t"])
    amplitude: float | list[float] = Field(0.5, description="half a digitisation step")
    distribution: Literal["uniform", "normal"] = "uniform"
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _lengths(self) -> JitterConfig:
        if isinstance(self.amplitude, list) and len(self.amplitude) != len(self.columns):
            raise ValueError(
                f"amplitude has {len(self.amplitude)} values for {len(self.columns)} columns"
            )
        amps = self.amplitude if isinstance(self.amplitude, list) else [self.amplitude]
        if any(not a >= 0 for a in amps):
            raise ValueError("jitter amplitudes must be >= 0")
        return self


class MomentumCorrectionConfig(_Model):
    """Landmarks and grid from which the distortion field is rebuilt exactly."""

    symmetry: int = Field(6, ge=3)
    include_center: bool = True
    landmarks: list[tuple[float, float]] = Field(description="detected points, detector px")
    rotation: float = Field(0.0, description="pose rotation, degrees")
    scale: float = Field(1.0, gt=0)
    translation: tuple[float, float] = (0.0, 0.0)
    align: bool = False
    rings: list[tuple[float, float]] = Field(
        default_factory=list, description="further shells: (radius ratio, angle offset deg)"
    )
    grid_origin: tuple[float, float] = (0.0, 0.0)
    grid_step: tuple[float, float] = (1.0, 1.0)
    grid_shape: tuple[int, int] = (512, 512)

    @model_validator(mode="after")
    def _count(self) -> MomentumCorrectionConfig:
        need = self.symmetry * (1 + len(self.rings)) + (1 if self.include_center else 0)
        if len(self.landmarks) != need:
            raise ValueError(
                f"{self.symmetry}-fold symmetry needs {need} landmarks, got {len(self.landmarks)}"
            )
        if min(self.grid_shape) < 2 or min(self.grid_step) <= 0:
            raise ValueError("grid_shape must be >= 2 and grid_step > 0")
        return self


class MomentumCalibrationConfig(_Model):
    x_center: float
    y_center: float
    kx_scale: float = Field(description="1/Angstrom per detector pixel")
    ky_scale: float
    rotation: float = 0.0


class MomentumConfig(_Model):
    correction: MomentumCorrectionConfig | None = None
    calibration: MomentumCalibrationConfig | None = None


class EnergyCalibrationConfig(_Model):
    kind: Literal["tof_quadratic", "polynomial"] = "tof_quadratic"
    d: float | None = Field(None, description="drift length, m")
    t0: float | None = Field(None, description="time offset, s")
    e0: float = Field(0.0, description="energy offset, eV")
    coeffs: list[float] | None = None
    energy_scale: Literal["kinetic", "binding"] = "kinetic"

    @model_validator(mode="after")
    def _complete(self) -> EnergyCalibrationConfig:
        if self.kind == "tof_quadratic" and (self.d is None or self.t0 is None):
            raise ValueError("a tof_quadratic calibration needs d and t0")
        if self.kind == "polynomial" and not self.coeffs:
            raise ValueError("a polynomial calibration needs coeffs")
        return self


class EnergyConfig(_Model):
    tof_binwidth: float = Field(4.125e-12, gt=0, description="s per TOF step")
    tof_binning: int = Field(1, ge=1)
    calibration: EnergyCalibrationConfig | None = None


class DelayConfig(_Model):
    adc_range: tuple[float, float] | None = (1900.0, 25600.0)
    delay_range: tuple[float, float] | None = Field(None, description="ps at the ADC range ends")
    time0_mm: float | None = Field(None, description="stage position of time zero, mm")
    stage_column: str = Field("delayStage", description="stage column (mm), with time0_mm")
    flip: bool = False

    @model_validator(mode="after")
    def _ranges(self) -> DelayConfig:
        if self.adc_range is not None and self.adc_range[0] == self.adc_range[1]:
            raise ValueError(f"adc_range {self.adc_range} has equal ends")
        if self.delay_range is not None and self.delay_range[0] == self.delay_range[1]:
            raise ValueError(f"delay_range {self.delay_range} has equal ends")
        return self


class SectorConfig(_Model):
    offsets: list[float] = Field(min_length=1, description="TOF offset per sector, steps")


class AxisConfig(_Model):
    column: str
    bins: int | None = Field(None, ge=1)
    range: tuple[float, float] | None = None
    edges: list[float] | None = None

    @model_validator(mode="after")
    def _grid(self) -> AxisConfig:
        if self.edges is not None:
            e = self.edges
            if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:], strict=False)):
                raise ValueError(f"edges of axis {self.column!r} must increase")
        elif self.bins is None or self.range is None:
            raise ValueError(f"axis {self.column!r} needs bins and range, or edges")
        elif not self.range[1] > self.range[0]:
            raise ValueError(f"range of axis {self.column!r} must increase, got {self.range}")
        return self


class BinningConfig(_Model):
    range_mode: Literal["edges", "sed"] = Field(
        "edges", description="edges: range = outer bin edges; sed: range = first/last centres"
    )
    axes: list[AxisConfig] = Field(default_factory=list)


class MpesConfig(_Model):
    """Everything one processing run needs (see the module docstring for the hierarchy)."""

    columns: Columns = Field(default_factory=Columns)
    jitter: JitterConfig | None = Field(default_factory=JitterConfig)
    momentum: MomentumConfig = Field(default_factory=MomentumConfig)
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
    delay: DelayConfig = Field(default_factory=DelayConfig)
    sectors: SectorConfig | None = None
    binning: BinningConfig = Field(default_factory=BinningConfig)

    def to_pipeline(self):
        """The per-event transforms this config defines, in the order they apply."""
        import numpy as np

        from bigmax.techniques.mpes import transforms as tr
        from bigmax.techniques.mpes.calibrate.momentum import MomentumCorrector

        c = self.columns
        steps: list = []
        if self.jitter is not None and self.jitter.columns:
            amps = self.jitter.amplitude
            amps = amps if isinstance(amps, list) else [amps] * len(self.jitter.columns)
            steps.append(tr.Jitter(columns=dict(zip(self.jitter.columns, amps, strict=True)),
                                   distribution=self.jitter.distribution, seed=self.jitter.seed))
        mx, my = c.x, c.y
        mc = self.momentum.correction
        if mc is not None:
            fitted = MomentumCorrector(
                symmetry=mc.symmetry, include_center=mc.include_center,
                landmarks=np.asarray(mc.landmarks), rotation=mc.rotation, scale=mc.scale,
                translation=mc.translation, align=mc.align, rings=tuple(mc.rings),
            ).fit_grid(mc.grid_shape, mc.grid_origin, mc.grid_step)
            steps.append(fitted.to_transform(x_column=c.x, y_column=c.y,
                                             x_out=c.corrected_x, y_out=c.corrected_y))
            mx, my = c.corrected_x, c.corrected_y
        kc = self.momentum.calibration
        if kc is not None:
            steps.append(tr.MomentumCalibration(
                x_center=kc.x_center, y_center=kc.y_center, kx_scale=kc.kx_scale,
                ky_scale=kc.ky_scale, rotation=kc.rotation, x_column=mx, y_column=my,
                kx_out=c.kx, ky_out=c.ky))
        ec = self.energy.calibration
        if ec is not None:
            steps.append(tr.EnergyCalibration(
                kind=ec.kind, d=ec.d if ec.d is not None else 1.0,
                t0=ec.t0 if ec.t0 is not None else 0.0, e0=ec.e0,
                coeffs=tuple(ec.coeffs or ()), binwidth=self.energy.tof_binwidth,
                binning=self.energy.tof_binning, energy_scale=ec.energy_scale,
                tof_column=c.tof, out=c.energy))
        dc = self.delay
        if dc.adc_range is not None and dc.delay_range is not None:
            from bigmax.techniques.mpes.calibrate.delay import delay_from_adc

            steps.append(delay_from_adc(dc.adc_range, dc.delay_range, column=c.adc,
                                        out=c.delay, flip=dc.flip))
        elif dc.time0_mm is not None:
            from bigmax.techniques.mpes.calibrate.delay import delay_from_stage

            steps.append(delay_from_stage(dc.time0_mm, column=dc.stage_column, out=c.delay,
                                          flip=dc.flip))
        return tr.Pipeline(steps=tuple(steps))


# ---------------------------------------------------------------------------------------------
# files and the hierarchy


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from ``path``; an empty file is an empty mapping."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bigmax" / "mpes.yaml"


def _package_defaults() -> dict:
    from importlib.resources import files

    return read_yaml(Path(str(files("bigmax") / "data" / "mpes" / "default.yaml")))


def _merge(base: dict, new: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{source}: {loc}: {e['msg']}")
    more = len(err.errors()) - 5
    return "\n".join(lines) + (f"\n... and {more} more" if more > 0 else "")


def _is_sed(data: dict) -> bool:
    return "dataframe" in data or "core" in data


def load_config(
    *,
    overrides: dict | None = None,
    files: list[str | Path] = (),
    folder: str | Path | None = None,
    user_file: str | Path | None = None,
    use_user: bool = True,
    use_folder: bool = True,
) -> MpesConfig:
    """Merge package < user < folder < ``files`` (in order) < ``overrides`` and validate.

    Each level is validated as it is merged, so the error names the level that broke it.
    """
    sources: list[tuple[str, dict]] = [("package defaults", _package_defaults())]
    if use_user:
        up = Path(user_file) if user_file is not None else user_config_path()
        if up.is_file():
            sources.append((str(up), read_yaml(up)))
    if use_folder:
        fp = Path(folder if folder is not None else Path.cwd()) / FOLDER_FILE
        if fp.is_file():
            sources.append((str(fp), read_yaml(fp)))
    for f in files:
        sources.append((str(f), read_yaml(f)))
    if overrides:
        sources.append(("call arguments", overrides))
    merged: dict = {}
    cfg = None
    for name, data in sources:
        if _is_sed(data):
            data = from_sed(data, source=name)
        merged = _merge(merged, data)
        try:
            cfg = MpesConfig.model_validate(merged)
        except ValidationError as err:
            raise ConfigError(_format(err, name)) from None
    return cfg


def dump_config(cfg: MpesConfig, path: str | Path | None = None, *, sed: bool = False) -> str:
    """YAML text of ``cfg`` (ours, or sed's layout); written to ``path`` when given."""
    import yaml

    data = to_sed(cfg) if sed else cfg.model_dump(mode="json", exclude_none=False)
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# ---------------------------------------------------------------------------------------------
# sed's layout


def _resolve(name: Any, columns: dict) -> Any:
    if isinstance(name, str) and name.startswith("@"):
        return columns.get(name[1:], name[1:])
    return name


def _sed_grid(mom: dict) -> tuple[list[float], list[float], list[int]] | None:
    rng, bins = mom.get("ranges"), mom.get("bins")
    if not (isinstance(rng, list) and isinstance(bins, list) and len(rng) >= 2 and len(bins) >= 2):
        return None
    try:
        starts = [float(rng[0][0]), float(rng[1][0])]
        steps = [(float(rng[i][1]) - float(rng[i][0])) / int(bins[i]) for i in (0, 1)]
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return starts, steps, [int(bins[0]), int(bins[1])]


def from_sed(data: dict, source: str = "sed config") -> dict:
    """Our config layout (a plain dict, not yet validated) from a sed config mapping."""
    out: dict = {}
    df = data.get("dataframe") or {}
    if not isinstance(df, dict):
        raise ConfigError(f"{source}: dataframe must be a mapping")
    cols = dict(df.get("columns") or {})
    for key in ("x", "y", "tof", "adc", "bias", "corrected_x", "corrected_y", "corrected_tof",
                "kx", "ky", "energy", "delay", "timestamp"):
        old = df.get(f"{key}_column")  # sed < 1.0 kept e.g. x_column in dataframe
        if old is not None and key not in cols:
            cols[key] = old
    sector = df.get("sector_id_column") or cols.pop("sector_id", None)
    if sector is not None:
        cols["sector"] = sector
    if cols:
        out["columns"] = {k: v for k, v in cols.items() if k in Columns.model_fields}
    alias = {**Columns().model_dump(), **out.get("columns", {})}
    if "jitter_cols" in df:
        jc = [_resolve(c, alias) for c in df["jitter_cols"] or []]
        out["jitter"] = {"columns": jc}
        if "jitter_amps" in df:
            out["jitter"]["amplitude"] = df["jitter_amps"]
    energy: dict = {}
    if "tof_binwidth" in df:
        energy["tof_binwidth"] = df["tof_binwidth"]
    if "tof_binning" in df:
        energy["tof_binning"] = df["tof_binning"]
    en = data.get("energy") or {}
    cal = en.get("calibration") if isinstance(en, dict) else None
    if isinstance(cal, dict) and cal:
        scale = cal.get("energy_scale", en.get("energy_scale", "kinetic"))
        if "coeffs" in cal:
            coeffs = [float(v) for v in cal["coeffs"]]
            energy["calibration"] = {"kind": "polynomial", "coeffs": coeffs,
                                     "e0": cal.get("E0", 0.0), "energy_scale": scale}
        else:
            energy["calibration"] = {"kind": "tof_quadratic", "d": cal.get("d"),
                                     "t0": cal.get("t0"), "e0": cal.get("E0", 0.0),
                                     "energy_scale": scale}
    if energy:
        out["energy"] = energy
    mom = data.get("momentum") or {}
    grid = _sed_grid(mom) if isinstance(mom, dict) else None
    momentum: dict = {}
    corr = mom.get("correction") if isinstance(mom, dict) else None
    if isinstance(corr, dict) and corr.get("feature_points"):
        pts = corr["feature_points"]
        starts, steps, shape = grid or ([0.0, 0.0], [1.0, 1.0], [512, 512])
        try:
            lm = [(starts[0] + steps[0] * float(p[0]), starts[1] + steps[1] * float(p[1]))
                  for p in pts]
        except (TypeError, ValueError, IndexError):
            raise ConfigError(f"{source}: momentum.correction.feature_points must be "
                              "pairs of numbers") from None
        momentum["correction"] = {
            "symmetry": int(corr.get("rotation_symmetry", 6)),
            "include_center": bool(corr.get("include_center", True)),
            "landmarks": lm,
            "grid_origin": starts, "grid_step": steps, "grid_shape": shape,
        }
    kcal = mom.get("calibration") if isinstance(mom, dict) else None
    if isinstance(kcal, dict) and "kx_scale" in kcal:
        try:
            rstep, cstep = float(kcal.get("rstep", 1.0)), float(kcal.get("cstep", 1.0))
            momentum["calibration"] = {
                "x_center": float(kcal.get("rstart", 0.0)) + rstep * float(kcal["x_center"]),
                "y_center": float(kcal.get("cstart", 0.0)) + cstep * float(kcal["y_center"]),
                "kx_scale": float(kcal["kx_scale"]) / rstep,
                "ky_scale": float(kcal["ky_scale"]) / cstep,
            }
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            raise ConfigError(f"{source}: momentum.calibration needs numeric kx_scale, "
                              "ky_scale, x_center, y_center, rstep, cstep") from None
    if momentum:
        out["momentum"] = momentum
    dl = data.get("delay") or {}
    if isinstance(dl, dict) and dl:
        delay: dict = {}
        dcal = dl.get("calibration") if isinstance(dl.get("calibration"), dict) else {}
        if "adc_range" in dl or "adc_range" in dcal:
            delay["adc_range"] = dcal.get("adc_range", dl.get("adc_range"))
        if "delay_range" in dcal:
            delay["delay_range"] = dcal["delay_range"]
        if "flip_time_axis" in dl or "flip_time_axis" in dcal:
            delay["flip"] = bool(dcal.get("flip_time_axis", dl.get("flip_time_axis")))
        if "time0" in dcal:
            delay["time0_mm"] = dcal["time0"]
        out["delay"] = delay
    hist = data.get("histogram") or {}
    if isinstance(hist, dict) and hist.get("axes"):
        axes = []
        names, nbs, rgs = hist["axes"], hist.get("bins") or [], hist.get("ranges") or []
        if not (len(names) == len(nbs) == len(rgs)):
            raise ConfigError(f"{source}: histogram axes, bins and ranges differ in length "
                              f"({len(names)}, {len(nbs)}, {len(rgs)})")
        for name, nb, rg in zip(names, nbs, rgs, strict=True):
            axes.append({"column": _resolve(name, alias), "bins": nb, "range": rg})
        out["binning"] = {"range_mode": "sed", "axes": axes}
    return out


def to_sed(cfg: MpesConfig) -> dict:
    """sed's config layout of ``cfg`` (only what sed has a key for)."""
    c = cfg.columns
    cols = c.model_dump()
    cols.pop("sector")
    df: dict = {"columns": cols, "tof_binwidth": cfg.energy.tof_binwidth,
                "tof_binning": cfg.energy.tof_binning}
    if cfg.jitter is not None:
        df["jitter_cols"] = list(cfg.jitter.columns)
        df["jitter_amps"] = cfg.jitter.amplitude
    out: dict = {"dataframe": df}
    ec = cfg.energy.calibration
    if ec is not None:
        cal: dict = {"energy_scale": ec.energy_scale, "E0": ec.e0}
        if ec.kind == "tof_quadratic":
            cal.update(d=ec.d, t0=ec.t0)
        else:
            cal["coeffs"] = list(ec.coeffs)
        out["energy"] = {"calibration": cal}
    mom: dict = {}
    mc = cfg.momentum.correction
    if mc is not None and mc.rings:
        raise ConfigError(
            "sed's config has no place for a second shell of landmarks (momentum.correction."
            "rings); write the bigmax layout instead"
        )
    if mc is not None:
        (x0, y0), (sx, sy), (nx, ny) = mc.grid_origin, mc.grid_step, mc.grid_shape
        mom["axes"] = ["@x", "@y", "@tof"]
        mom["bins"] = [nx, ny, 300]
        mom["ranges"] = [[x0, x0 + sx * nx], [y0, y0 + sy * ny], [0, 300000]]
        mom["correction"] = {
            "feature_points": [[(x - x0) / sx, (y - y0) / sy] for x, y in mc.landmarks],
            "rotation_symmetry": mc.symmetry, "include_center": mc.include_center,
            "use_center": mc.include_center,
        }
    kc = cfg.momentum.calibration
    if kc is not None:
        if mc is not None:
            (x0, y0), (sx, sy) = mc.grid_origin, mc.grid_step
        else:
            (x0, y0), (sx, sy) = (0.0, 0.0), (1.0, 1.0)
        mom["calibration"] = {
            "kx_scale": kc.kx_scale * sx, "ky_scale": kc.ky_scale * sy,
            "x_center": (kc.x_center - x0) / sx, "y_center": (kc.y_center - y0) / sy,
            "rstart": x0, "cstart": y0, "rstep": sx, "cstep": sy,
        }
    if mom:
        out["momentum"] = mom
    dc = cfg.delay
    delay: dict = {"flip_time_axis": dc.flip}
    if dc.adc_range is not None:
        delay["adc_range"] = list(dc.adc_range)
    cal = {}
    if dc.delay_range is not None and dc.adc_range is not None:
        cal = {"adc_range": list(dc.adc_range), "delay_range": list(dc.delay_range)}
    if dc.time0_mm is not None:
        cal["time0"] = dc.time0_mm
    if cal:
        delay["calibration"] = cal
    out["delay"] = delay
    if cfg.binning.axes:
        ax = [a for a in cfg.binning.axes if a.bins is not None and a.range is not None]
        out["histogram"] = {"axes": [a.column for a in ax], "bins": [a.bins for a in ax],
                            "ranges": [list(a.range) for a in ax]}
    return out
