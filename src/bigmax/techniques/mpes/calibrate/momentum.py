"""Momentum calibration: landmarks, symmetrisation by thin-plate splines, scale from two points.

A momentum microscope's lens and detector bend the kx-ky image; a hexagonal Brillouin zone comes
out as a squashed, skewed hexagon. Following Xian et al., *Ultramicroscopy* 202, 133 (2019)
("symmetry-guided nonrigid registration"), we find the high-symmetry points (landmarks: e.g. the
six K points and Gamma), fit the closest ideal n-fold symmetric pattern to them (a least-squares
similarity fit of a regular polygon), and register the landmarks onto it with a thin-plate
spline. Evaluated on the detector grid, the spline is the displacement field (``dx``, ``dy``) the
binning engine looks up bilinearly for every event. An optional pose adjustment (rotation, scale,
translation about the pattern centre) is folded into the same field. Finally two points of known
momentum distance (Gamma and K) give the scale in 1/Angstrom.

Coordinates: axis 0 of an image is detector x, axis 1 is y. ``coords`` gives the bin centres of
the image in detector units (default: pixel indices), and every returned position, field and
scale is in those units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bigmax.techniques.mpes.calibrate import CalibrationError

__all__ = [
    "MomentumCorrector",
    "MomentumScale",
    "find_landmarks",
    "gamma_k_distance",
    "momentum_scale",
    "symmetric_target",
]


def _check_image(image, name: str = "image") -> np.ndarray:
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 2:
        raise CalibrationError(f"{name} must be a 2D kx-ky image, got shape {arr.shape}")
    if min(arr.shape) < 8:
        raise CalibrationError(f"{name} is too small ({arr.shape}); need at least 8x8 pixels")
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{name} contains NaN or infinite values")
    if np.ptp(arr) <= 0:
        raise CalibrationError(f"{name} is constant; there are no landmarks to find")
    return arr


def _refine(smooth: np.ndarray, r: int, c: int, half: int) -> tuple[float, float]:
    """Sub-pixel peak: fit a 2D quadratic to log intensity around (r, c) (a Gaussian spot)."""
    n0, n1 = smooth.shape
    r0, r1 = max(r - half, 0), min(r + half + 1, n0)
    c0, c1 = max(c - half, 0), min(c + half + 1, n1)
    win = smooth[r0:r1, c0:c1]
    floor = win.min()
    z = win - floor
    top = z.max()
    rr, cc = np.mgrid[r0:r1, c0:c1]
    keep = z > 0.2 * top
    if keep.sum() >= 6:
        dr = (rr[keep] - r).astype(float)
        dc = (cc[keep] - c).astype(float)
        w = z[keep]
        a = np.column_stack([np.ones_like(dr), dr, dc, dr * dr, dr * dc, dc * dc])
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(a * sw[:, None], np.log(w) * sw, rcond=None)
        hess = np.array([[2 * coef[3], coef[4]], [coef[4], 2 * coef[5]]])
        if np.all(np.linalg.eigvalsh(hess) < 0):
            shift = np.linalg.solve(hess, -coef[1:3])
            if np.all(np.abs(shift) <= 1.5):
                return r + float(shift[0]), c + float(shift[1])
    w = z * (z > 0.5 * top)  # fall back on the centroid of the top half
    return float((rr * w).sum() / w.sum()), float((cc * w).sum() / w.sum())


def find_landmarks(
    image,
    n_points: int,
    *,
    sigma: float = 2.0,
    min_distance: int | None = None,
    threshold_rel: float = 0.05,
) -> np.ndarray:
    """Return the ``n_points`` brightest spots of ``image`` at sub-pixel precision, shape (n, 2).

    The image is smoothed with a Gaussian of ``sigma`` pixels (binned event counts are noisy),
    local maxima at least ``min_distance`` apart (default ``4 * sigma``) are ranked by height,
    and each is refined by a quadratic fit to the log intensity (exact for a Gaussian spot).
    Positions are in pixel indices (axis 0, axis 1).
    """
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max

    arr = _check_image(image)
    if int(n_points) < 3:
        raise CalibrationError(f"n_points must be at least 3, got {n_points}")
    if not sigma > 0:
        raise CalibrationError(f"sigma must be positive, got {sigma}")
    smooth = gaussian_filter(arr, sigma)
    md = max(1, int(round(4 * sigma))) if min_distance is None else int(min_distance)
    peaks = peak_local_max(
        smooth,
        min_distance=md,
        threshold_rel=threshold_rel,
        num_peaks=int(n_points),
        exclude_border=False,
    )
    if len(peaks) < n_points:
        raise CalibrationError(
            f"found only {len(peaks)} landmarks in the image, need {n_points}; "
            "lower --sigma/min_distance or check the energy slice"
        )
    half = max(2, int(round(1.5 * sigma)))
    return np.array([_refine(smooth, int(r), int(c), half) for r, c in peaks])


def _similarity_fit(src: np.ndarray, dst: np.ndarray):
    """Least-squares s, R, t with s R src + t ~ dst (Umeyama, no reflection)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    u, sv, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float((sv * np.diag(d)).sum() / (a * a).sum())
    return scale, rot, md - scale * rot @ ms


@dataclass(frozen=True)
class SymmetricTarget:
    """The ideal n-fold pattern closest to the landmarks, in the landmarks' order."""

    points: np.ndarray  # (n, 2), matched one to one with the landmarks
    center: np.ndarray  # (2,)
    radius: float
    angle: float  # angle of the first outer vertex (radians, from axis 0 towards axis 1)
    center_index: int | None  # which landmark is the centre (Gamma), if any


def _check_rings(rings) -> list[tuple[float, float]]:
    out = []
    for r in rings or ():
        try:
            ratio, offset = float(r[0]), float(r[1])
        except (TypeError, ValueError, IndexError):
            raise CalibrationError(f"a ring is (radius ratio, angle offset in degrees), got {r!r}"
                                   ) from None
        if not (np.isfinite(ratio) and ratio > 0 and np.isfinite(offset)) or ratio == 1.0:
            raise CalibrationError(
                f"ring radius ratio must be positive, finite and not 1 (the first ring), got {r!r}"
            )
        out.append((ratio, offset))
    return out


def symmetric_target(
    points, symmetry: int, include_center: bool = True, rings=()
) -> SymmetricTarget:
    """Fit a regular ``symmetry``-gon (plus its centre) to landmarks by least squares.

    The landmark nearest the centroid is taken as the centre when ``include_center``; the others
    are ordered by angle and matched to the polygon's vertices. Scale, rotation and position are
    fitted (a similarity), so the registration only removes what breaks the symmetry.

    ``rings`` adds shells of ``symmetry`` points each with a known geometry relative to the
    first, as (radius ratio, angle offset in degrees): the M points of a hexagonal zone are
    ``(sqrt(3)/2, 30)``. A second shell fixes how a radial distortion varies with radius, which
    one shell cannot. Points go to shells by their distance from the centre.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise CalibrationError(f"landmarks must have shape (n, 2), got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise CalibrationError("landmarks contain NaN or infinite values")
    symmetry = int(symmetry)
    if symmetry < 3:
        raise CalibrationError(f"symmetry must be at least 3, got {symmetry}")
    extra = _check_rings(rings)
    need = symmetry * (1 + len(extra)) + (1 if include_center else 0)
    if len(pts) != need:
        shells = f" in {1 + len(extra)} shells" if extra else ""
        raise CalibrationError(
            f"{symmetry}-fold symmetry{shells}{' with centre' if include_center else ''} needs "
            f"{need} landmarks, got {len(pts)}"
        )
    centroid = pts.mean(axis=0)
    ci = int(np.argmin(np.hypot(*(pts - centroid).T))) if include_center else None
    outer_idx = np.array([i for i in range(len(pts)) if i != ci])
    outer = pts[outer_idx]
    oc = outer.mean(axis=0)
    dist = np.hypot(*(outer - oc).T)
    if dist.min() < 1e-6 * max(dist.max(), 1e-300) or dist.max() == 0:
        raise CalibrationError("landmarks coincide; they do not form a symmetric pattern")
    # shells by radius: the largest ratio takes the farthest points
    ratios = [(1.0, 0.0), *extra]
    shell_order = np.argsort([-r for r, _ in ratios], kind="stable")
    by_radius = np.argsort(-dist, kind="stable")
    shell_of = np.empty(len(outer), dtype=int)
    for rank, sh in enumerate(shell_order):
        shell_of[by_radius[rank * symmetry:(rank + 1) * symmetry]] = sh
    # first shell alone (plus centre) fixes centre, scale and angle
    phi = 2 * np.pi * np.arange(symmetry) / symmetry
    first = np.flatnonzero(shell_of == 0)
    ang = np.arctan2(outer[first, 1] - oc[1], outer[first, 0] - oc[0])
    first = first[np.argsort(ang)]
    src = [np.column_stack([np.cos(phi), np.sin(phi)])]
    dst = [outer[first]]
    idx = [outer_idx[first]]
    if ci is not None:
        src.append(np.zeros((1, 2)))
        dst.append(pts[ci][None])
        idx.append(np.array([ci]))
    scale, rot, shift = _similarity_fit(np.vstack(src), np.vstack(dst))
    theta0 = float(np.arctan2(rot[1, 0], rot[0, 0]))
    step = 2 * np.pi / symmetry
    for sh, (ratio, offset) in enumerate(ratios[1:], start=1):
        members = np.flatnonzero(shell_of == sh)
        rel = outer[members] - shift
        a = np.arctan2(rel[:, 1], rel[:, 0]) - theta0 - np.deg2rad(offset)
        k = np.mod(np.rint(a / step).astype(int), symmetry)
        if np.unique(k).size != symmetry:
            raise CalibrationError(
                f"shell {sh} (radius ratio {ratio:g}, offset {offset:g} deg): its landmarks do "
                "not sit one per vertex; check the ring geometry"
            )
        ang_k = phi[k] + np.deg2rad(offset)
        src.append(ratio * np.column_stack([np.cos(ang_k), np.sin(ang_k)]))
        dst.append(outer[members])
        idx.append(outer_idx[members])
    src_all, dst_all, idx_all = np.vstack(src), np.vstack(dst), np.concatenate(idx)
    scale, rot, shift = _similarity_fit(src_all, dst_all)
    ideal = (scale * (rot @ src_all.T)).T + shift
    target = np.empty_like(pts)
    target[idx_all] = ideal
    first_vertex = ideal[0] - shift
    return SymmetricTarget(
        points=target,
        center=np.asarray(shift, dtype=np.float64),
        radius=float(scale),
        angle=float(np.arctan2(first_vertex[1], first_vertex[0])),
        center_index=ci,
    )


class ThinPlateSpline:
    """The 2D thin-plate spline through ``src -> dst`` (with its affine part), as
    ``scipy.interpolate.RBFInterpolator(src, dst, kernel="thin_plate_spline", degree=1)``
    defines it; evaluated here row block by row block in numpy, so a 2048 x 2048 detector grid
    takes a fraction of a second and bounded memory.
    """

    def __init__(self, src, dst):
        src = np.asarray(src, dtype=np.float64)
        dst = np.asarray(dst, dtype=np.float64)
        self.center = src.mean(axis=0)
        self.scale = float(np.max(np.abs(src - self.center))) or 1.0  # conditioning only
        p = (src - self.center) / self.scale
        n = len(p)
        kmat = self._kernel(p[:, None, :] - p[None, :, :])
        poly = np.column_stack([np.ones(n), p])
        lhs = np.zeros((n + 3, n + 3))
        lhs[:n, :n], lhs[:n, n:], lhs[n:, :n] = kmat, poly, poly.T
        rhs = np.zeros((n + 3, 2))
        rhs[:n] = dst
        try:
            sol = np.linalg.solve(lhs, rhs)
        except np.linalg.LinAlgError:
            raise CalibrationError("landmarks are collinear or repeated; no spline fits") from None
        self.nodes, self.weights, self.affine = p, sol[:n], sol[n:]

    @staticmethod
    def _kernel(d: np.ndarray) -> np.ndarray:
        r2 = np.sum(d * d, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 0.5 * r2 * np.log(r2)
        return np.where(r2 > 0, out, 0.0)

    def __call__(self, points) -> np.ndarray:
        p = (np.atleast_2d(np.asarray(points, dtype=np.float64)) - self.center) / self.scale
        k = self._kernel(p[:, None, :] - self.nodes[None, :, :])
        return k @ self.weights + self.affine[0] + p @ self.affine[1:]

    def grid(self, xs, ys, block: int = 1 << 18) -> np.ndarray:
        """Values on the grid xs x ys: array (2, len(xs), len(ys))."""
        xs = (np.asarray(xs, dtype=np.float64) - self.center[0]) / self.scale
        ys = (np.asarray(ys, dtype=np.float64) - self.center[1]) / self.scale
        out = np.empty((2, xs.size, ys.size))
        rows = max(1, block // max(ys.size, 1))
        for i in range(0, xs.size, rows):
            gx = xs[i:i + rows, None, None]
            acc = np.zeros((2, gx.shape[0], ys.size))
            for (nx, ny), w in zip(self.nodes, self.weights, strict=True):
                r2 = (gx[:, :, 0] - nx) ** 2 + (ys[None, :] - ny) ** 2
                with np.errstate(divide="ignore", invalid="ignore"):
                    phi = np.where(r2 > 0, 0.5 * r2 * np.log(r2), 0.0)
                acc[0] += w[0] * phi
                acc[1] += w[1] * phi
            a = self.affine
            for c in (0, 1):
                acc[c] += a[0, c] + a[1, c] * gx[:, :, 0] + a[2, c] * ys[None, :]
            out[:, i:i + rows] = acc
        return out


def _axis(coords, n: int, name: str) -> tuple[float, float]:
    if coords is None:
        return 0.0, 1.0
    c = np.asarray(coords, dtype=np.float64)
    if c.shape != (n,):
        raise CalibrationError(f"coords for {name} must have {n} values, got shape {c.shape}")
    step = np.diff(c)
    if not np.all(step > 0) or not np.allclose(step, step[0], rtol=1e-6):
        raise CalibrationError(f"coords for {name} must be evenly spaced and increasing")
    return float(c[0]), float(step[0])


class MomentumCorrector:
    """Symmetrise a kx-ky image by thin-plate-spline registration of its landmarks.

    Parameters
    ----------
    symmetry : int, default=6
        Rotational symmetry of the pattern (6 for graphene or WSe2 K points).
    include_center : bool, default=True
        Whether the landmarks include the centre (Gamma), registered onto the pattern centre.
    landmarks : array of shape (n, 2) or None, default=None
        Landmarks in detector units; when None, ``fit`` finds them with ``find_landmarks``.
    sigma : float, default=2.0
        Smoothing (pixels) for the landmark search.
    rotation, scale, translation : pose adjustment after symmetrisation
        Rotation (degrees) and scale about the pattern centre, then a shift (detector units).
    align : bool, default=False
        Rotate so that the first vertex of the pattern lies on axis 0 (adds to ``rotation``).
    rings : sequence of (float, float), default=()
        Further shells of landmarks as (radius ratio, angle offset in degrees) to the first,
        e.g. ``[(0.8660254, 30)]`` for the M points of a hexagonal zone.
    max_deviation : float, default=0.25
        Refuse landmarks whose RMS distance to the fitted ideal pattern exceeds this fraction
        of its radius: they are noise, not an n-fold pattern (real distortions stay below 0.1).

    Attributes
    ----------
    landmarks_, target_ : arrays of shape (n, 2)
        Detected and ideal positions (detector units).
    center_ : array of shape (2,)
        Pattern centre after the pose adjustment.
    dx_, dy_ : arrays of the image's shape
        Displacement field: an event at grid point (x, y) moves to (x + dx, y + dy).
    """

    def __init__(
        self,
        symmetry: int = 6,
        include_center: bool = True,
        landmarks=None,
        sigma: float = 2.0,
        rotation: float = 0.0,
        scale: float = 1.0,
        translation: tuple[float, float] = (0.0, 0.0),
        align: bool = False,
        rings: tuple = (),
        max_deviation: float = 0.25,
    ):
        self.symmetry = symmetry
        self.include_center = include_center
        self.landmarks = landmarks
        self.sigma = sigma
        self.rotation = rotation
        self.scale = scale
        self.translation = translation
        self.align = align
        self.rings = rings
        self.max_deviation = max_deviation

    def get_params(self, deep: bool = True) -> dict:
        names = ("symmetry", "include_center", "landmarks", "sigma", "rotation", "scale",
                 "translation", "align", "rings", "max_deviation")
        return {k: getattr(self, k) for k in names}

    def set_params(self, **params) -> MomentumCorrector:
        for k, v in params.items():
            if k not in self.get_params():
                raise CalibrationError(f"MomentumCorrector has no parameter {k!r}")
            setattr(self, k, v)
        return self

    # -- fitting -------------------------------------------------------------------------
    def fit(self, image, coords=None) -> MomentumCorrector:
        """Find landmarks (unless given), fit the symmetric target and the TPS field."""
        arr = _check_image(image)
        coords = (None, None) if coords is None else coords
        x0, sx = _axis(coords[0], arr.shape[0], "axis 0")
        y0, sy = _axis(coords[1], arr.shape[1], "axis 1")
        if self.landmarks is None:
            n = int(self.symmetry) * (1 + len(_check_rings(self.rings)))
            n += 1 if self.include_center else 0
            pix = find_landmarks(arr, n, sigma=self.sigma)
            lm = np.column_stack([x0 + sx * pix[:, 0], y0 + sy * pix[:, 1]])
        else:
            lm = np.asarray(self.landmarks, dtype=np.float64)
        return self._fit_field(lm, arr.shape, (x0, y0), (sx, sy))

    def fit_grid(self, shape, origin=(0.0, 0.0), step=(1.0, 1.0)) -> MomentumCorrector:
        """Rebuild the field from the given ``landmarks`` on a grid (no image needed): a config
        file keeps landmarks and grid, and this reproduces the field exactly."""
        if self.landmarks is None:
            raise CalibrationError("fit_grid needs landmarks; set the 'landmarks' parameter")
        shape = tuple(int(v) for v in shape)
        if len(shape) != 2 or min(shape) < 2:
            raise CalibrationError(f"grid shape must be two sizes >= 2, got {shape}")
        if len(step) != 2 or not all(np.isfinite(v) and v > 0 for v in step):
            raise CalibrationError(f"grid step must be two positive numbers, got {step}")
        lm = np.asarray(self.landmarks, dtype=np.float64)
        return self._fit_field(lm, shape, tuple(map(float, origin)), tuple(map(float, step)))

    def _fit_field(self, lm, shape, origin, step) -> MomentumCorrector:
        (x0, y0), (sx, sy) = origin, step
        tgt = symmetric_target(lm, self.symmetry, self.include_center, self.rings)
        dev = float(np.sqrt(np.mean(np.sum((lm - tgt.points) ** 2, axis=1)))) / tgt.radius
        if not dev <= self.max_deviation:
            raise CalibrationError(
                f"the landmarks do not form a {self.symmetry}-fold pattern: their RMS distance "
                f"to the best regular pattern is {dev:.0%} of its radius (max_deviation "
                f"{self.max_deviation:.0%}); choose an energy slice with clear features"
            )
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise CalibrationError(f"pose scale must be positive, got {self.scale}")
        rot = np.deg2rad(float(self.rotation)) - (tgt.angle if self.align else 0.0)
        c, s = np.cos(rot), np.sin(rot)
        pose = float(self.scale) * np.array([[c, -s], [s, c]])
        shift = np.asarray(self.translation, dtype=np.float64)
        if shift.shape != (2,):
            raise CalibrationError(f"translation must be two numbers, got {self.translation!r}")
        target = (pose @ (tgt.points - tgt.center).T).T + tgt.center + shift
        spline = ThinPlateSpline(lm, target)
        xs = x0 + sx * np.arange(shape[0])
        ys = y0 + sy * np.arange(shape[1])
        moved = spline.grid(xs, ys)
        self.landmarks_ = lm
        self.target_ = target
        self.symmetric_ = tgt
        self.center_ = tgt.center + shift
        self.spline_ = spline
        self.dx_ = moved[0] - xs[:, None]
        self.dy_ = moved[1] - ys[None, :]
        self.origin_ = (x0, y0)
        self.step_ = (sx, sy)
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "dx_"):
            raise CalibrationError(
                "This MomentumCorrector instance is not fitted yet. Call 'fit' with an image."
            )

    # -- applying ------------------------------------------------------------------------
    def correct_points(self, points) -> np.ndarray:
        """Move detector positions (n, 2) through the field by bilinear lookup, as events are."""
        from scipy.ndimage import map_coordinates

        self._fitted()
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if p.shape[1] != 2:
            raise CalibrationError(f"points must have shape (n, 2), got {p.shape}")
        ix = (p[:, 0] - self.origin_[0]) / self.step_[0]
        iy = (p[:, 1] - self.origin_[1]) / self.step_[1]
        dx = map_coordinates(self.dx_, [ix, iy], order=1, mode="nearest")
        dy = map_coordinates(self.dy_, [ix, iy], order=1, mode="nearest")
        return np.column_stack([p[:, 0] + dx, p[:, 1] + dy])

    def inverse_map(self, n_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """Where each output pixel comes from (pixel indices): fixed-point inversion of the field.

        Consistent with the event path: a pixel of the corrected image holds what the
        displacement field sends there, so images and binned events agree.
        """
        from scipy.ndimage import map_coordinates

        self._fitted()
        shape = self.dx_.shape
        qi, qj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
        qi = qi.astype(np.float64)
        qj = qj.astype(np.float64)
        di, dj = self.dx_ / self.step_[0], self.dy_ / self.step_[1]
        pi, pj = qi - di, qj - dj
        for _ in range(n_iter):
            ei = map_coordinates(di, [pi, pj], order=1, mode="nearest")
            ej = map_coordinates(dj, [pi, pj], order=1, mode="nearest")
            pi, pj = qi - ei, qj - ej
        ei = map_coordinates(di, [pi, pj], order=1, mode="nearest")
        ej = map_coordinates(dj, [pi, pj], order=1, mode="nearest")
        miss = float(np.max(np.hypot(pi + ei - qi, pj + ej - qj)))
        if miss > 0.05:
            import warnings

            warnings.warn(
                f"the distortion field folds over (inversion misses by {miss:.2f} px); "
                "check the landmarks",
                stacklevel=2,
            )
        return pi, pj

    def transform(self, image) -> np.ndarray:
        """The symmetrised image (bilinear resampling; outside the detector is 0)."""
        from scipy.ndimage import map_coordinates

        self._fitted()
        arr = _check_image(image)
        if arr.shape != self.dx_.shape:
            raise CalibrationError(
                f"image shape {arr.shape} differs from the fitted grid {self.dx_.shape}"
            )
        pi, pj = self.inverse_map()
        return map_coordinates(arr, [pi, pj], order=1, mode="constant", cval=0.0)

    def fit_transform(self, image, coords=None) -> np.ndarray:
        return self.fit(image, coords).transform(image)

    def score(self, image=None) -> float:
        """Minus the RMS distance of the corrected landmarks to the ideal pattern (detector
        units); 0 is perfect, and higher is better, as scikit-learn's scorers expect."""
        self._fitted()
        moved = self.correct_points(self.landmarks_)
        return -float(np.sqrt(np.mean(np.sum((moved - self.target_) ** 2, axis=1))))

    def momentum_scale(self, k_distance: float) -> MomentumScale:
        """k scale from the pattern centre (Gamma) to a vertex of the first shell, which sits
        ``k_distance`` (1/Angstrom) away, e.g. ``gamma_k_distance(a)`` for K points."""
        self._fitted()
        ci = self.symmetric_.center_index
        vertex = next(p for i, p in enumerate(self.target_) if i != ci)
        return momentum_scale(self.center_, vertex, k_distance)

    def to_transform(self, **columns):
        """The field as the binning engine's ``DistortionCorrection`` step (column names as
        keyword arguments: x_column, y_column, x_out, y_out)."""
        from bigmax.techniques.mpes.transforms import DistortionCorrection

        self._fitted()
        if not np.isclose(self.step_[0], self.step_[1], rtol=1e-9):
            raise CalibrationError(
                f"the distortion step needs one grid spacing, got {self.step_} along x and y"
            )
        return DistortionCorrection.from_arrays(
            self.dx_, self.dy_, x0=self.origin_[0], y0=self.origin_[1], step=self.step_[0],
            **columns,
        )

    def to_dict(self) -> dict:
        """The numbers a config file keeps: the field is rebuilt from these on load."""
        self._fitted()
        return {
            "symmetry": int(self.symmetry),
            "include_center": bool(self.include_center),
            "landmarks": self.landmarks_.tolist(),
            "rotation": float(self.rotation),
            "scale": float(self.scale),
            "translation": [float(v) for v in self.translation],
            "align": bool(self.align),
            "rings": [[float(r), float(o)] for r, o in _check_rings(self.rings)],
            "grid_origin": [float(v) for v in self.origin_],
            "grid_step": [float(v) for v in self.step_],
            "grid_shape": [int(v) for v in self.dx_.shape],
        }


@dataclass(frozen=True)
class MomentumScale:
    """k = scale * (detector position - center), per axis, in 1/Angstrom."""

    x_center: float
    y_center: float
    kx_scale: float
    ky_scale: float

    def __call__(self, points) -> np.ndarray:
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        return np.column_stack(
            [(p[:, 0] - self.x_center) * self.kx_scale, (p[:, 1] - self.y_center) * self.ky_scale]
        )

    def to_transform(self, rotation: float = 0.0, **columns):
        """The binning engine's ``MomentumCalibration`` step."""
        from bigmax.techniques.mpes.transforms import MomentumCalibration

        return MomentumCalibration(
            x_center=self.x_center, y_center=self.y_center, kx_scale=self.kx_scale,
            ky_scale=self.ky_scale, rotation=rotation, **columns,
        )


def momentum_scale(point_a, point_b, k_distance: float, center=None) -> MomentumScale:
    """Scale from two points of known momentum distance (e.g. Gamma and K).

    ``center`` (default ``point_a``) is where k = 0. Use on symmetrised coordinates, where one
    scale serves both axes.
    """
    a = np.asarray(point_a, dtype=np.float64)
    b = np.asarray(point_b, dtype=np.float64)
    if a.shape != (2,) or b.shape != (2,):
        raise CalibrationError("point_a and point_b must each be two numbers (x, y)")
    if not (np.isfinite(k_distance) and k_distance > 0):
        raise CalibrationError(f"k_distance must be a positive number, got {k_distance}")
    dist = float(np.hypot(*(b - a)))
    if not dist > 0:
        raise CalibrationError("point_a and point_b coincide; the scale is undefined")
    c = a if center is None else np.asarray(center, dtype=np.float64)
    s = float(k_distance) / dist
    return MomentumScale(float(c[0]), float(c[1]), s, s)


def gamma_k_distance(a: float) -> float:
    """|Gamma-K| = 4 pi / (3 a) for a hexagonal lattice of constant ``a`` (Angstrom)."""
    if not a > 0:
        raise CalibrationError(f"lattice constant must be positive, got {a}")
    return 4 * np.pi / (3 * float(a))
