"""Iso-composition (or iso-density) surfaces by marching cubes, split into objects.

The scalar field (usually one species' fraction from :func:`voxels.composition`) is padded with
a value below the iso-level and NaN voxels (outside the specimen) are set below it too, so every
surface is closed: an object cut by the specimen edge is capped there (``touches_edge`` says
so). Vertices are in nm. Faces are wound so that normals point out of the enriched region
(towards lower values); an object's volume then follows from the divergence theorem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["IsoSurfaceError", "Mesh", "isosurface", "write_mesh"]


class IsoSurfaceError(ValueError):
    """Bad iso-surface input (names the argument)."""


@dataclass
class Mesh:
    """A triangle mesh in nm: ``vertices`` (v, 3) float32, ``faces`` (f, 3) int64, ``normals``
    (v, 3) unit float32 pointing out of the enriched side, ``object_id`` per face."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    object_id: np.ndarray
    level: float
    touches_edge: np.ndarray

    @property
    def n_objects(self) -> int:
        return int(self.touches_edge.shape[0])

    def face_areas(self) -> np.ndarray:
        v = self.vertices.astype(np.float64)[self.faces]
        return 0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)

    @property
    def area(self) -> float:
        """Total surface area, nm^2."""
        return float(self.face_areas().sum())

    def object_areas(self) -> np.ndarray:
        return np.bincount(self.object_id, self.face_areas(), minlength=self.n_objects)

    def object_volumes(self) -> np.ndarray:
        """Enclosed volume per object (nm^3), by the divergence theorem on the closed mesh."""
        v = self.vertices.astype(np.float64)[self.faces]
        signed = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])) / 6.0
        return np.bincount(self.object_id, signed, minlength=self.n_objects)

    def object_centroids(self) -> np.ndarray:
        """Area-weighted centroid of each object's surface (nm)."""
        v = self.vertices.astype(np.float64)[self.faces].mean(axis=1)
        a = self.face_areas()
        out = np.zeros((self.n_objects, 3))
        for k in range(3):
            out[:, k] = np.bincount(self.object_id, a * v[:, k], minlength=self.n_objects)
        return out / np.maximum(self.object_areas(), 1e-30)[:, None]


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v = verts.astype(np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    return (vn / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def isosurface(field, level: float, *, species: str | None = None) -> Mesh:
    """Marching-cubes surface of ``field`` at ``level``, with objects and outward normals.

    Parameters
    ----------
    field : xarray.DataArray with dims (x, y, z) and coords in nm (voxel centres), or with a
        ``species`` dim, in which case ``species`` picks the channel (e.g. a composition field).
    level : iso-value in the field's units (e.g. 0.05 for 5 at.%).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from skimage.measure import marching_cubes

    if "species" in getattr(field, "dims", ()):
        if species is None:
            raise IsoSurfaceError("field has a species dimension: name the species to use")
        if species not in list(field.coords["species"].values):
            raise IsoSurfaceError(
                f"species {species!r} is not in the field "
                f"({', '.join(map(str, field.coords['species'].values))})"
            )
        field = field.sel(species=species)
    if tuple(getattr(field, "dims", ())) != ("x", "y", "z"):
        raise IsoSurfaceError(f"field must have dims (x, y, z), got {getattr(field, 'dims', None)}")
    if not np.isfinite(level):
        raise IsoSurfaceError(f"level must be finite, got {level!r}")
    data = np.asarray(field.values, dtype=np.float32)
    coords = [np.asarray(field.coords[c].values, dtype=float) for c in "xyz"]
    if any(len(c) < 2 for c in coords):
        raise IsoSurfaceError("field needs at least 2 voxels along x, y and z")
    spacing = np.array([c[1] - c[0] for c in coords])
    finite = np.isfinite(data)
    if not np.any(finite & (data > level)):
        raise IsoSurfaceError(f"no voxel is above level {level}: nothing to enclose")
    low = np.float32(min(np.nanmin(data), level) - 1.0)
    padded = np.full(tuple(s + 2 for s in data.shape), low, dtype=np.float32)
    padded[1:-1, 1:-1, 1:-1] = np.where(finite, data, low)
    verts, faces, _, _ = marching_cubes(padded, level, spacing=tuple(spacing))
    origin = np.array([c[0] for c in coords]) - spacing
    verts = verts + origin
    faces = faces.astype(np.int64)
    # Orient: the field must decrease along the outward normal.
    normals = _vertex_normals(verts, faces)
    probe = verts[: min(len(verts), 2000)]
    step = 0.25 * spacing.min()
    idx_out = np.rint((probe + step * normals[: len(probe)] - origin) / spacing).astype(int)
    idx_in = np.rint((probe - step * normals[: len(probe)] - origin) / spacing).astype(int)
    shape = np.array(padded.shape)
    idx_out = idx_out.clip(0, shape - 1)
    idx_in = idx_in.clip(0, shape - 1)
    diff = padded[tuple(idx_out.T)] - padded[tuple(idx_in.T)]
    if np.mean(diff) > 0:
        faces = faces[:, ::-1].copy()
        normals = -normals
    # Objects: connected components of the vertex graph.
    n_v = len(verts)
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_v, n_v))
    n_obj, vlab = connected_components(graph, directed=False)
    face_obj = vlab[faces[:, 0]]
    lo = np.array([c[0] for c in coords]) - 0.5 * spacing
    hi = np.array([c[-1] for c in coords]) + 0.5 * spacing
    at_edge = np.any((verts < lo + 0.5 * spacing) | (verts > hi - 0.5 * spacing), axis=1)
    touches = np.bincount(vlab[at_edge], minlength=n_obj) > 0
    return Mesh(
        vertices=verts.astype(np.float32),
        faces=faces,
        normals=normals,
        object_id=face_obj.astype(np.int64),
        level=float(level),
        touches_edge=touches,
    )


def write_mesh(path: str | Path, mesh: Mesh) -> Path:
    """Write ``mesh`` as .ply (binary little-endian, with normals), .obj (text) or .npz."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        np.savez_compressed(path, vertices=mesh.vertices, faces=mesh.faces,
                            normals=mesh.normals, object_id=mesh.object_id, level=mesh.level)
    elif suffix == ".obj":
        with open(path, "w") as fh:
            fh.write(f"# iso-surface at {mesh.level}, units nm\n")
            np.savetxt(fh, mesh.vertices, fmt="v %.5f %.5f %.5f")
            np.savetxt(fh, mesh.normals, fmt="vn %.5f %.5f %.5f")
            f1 = mesh.faces + 1
            np.savetxt(fh, np.repeat(f1, 2, axis=1), fmt="f %d//%d %d//%d %d//%d")
    elif suffix == ".ply":
        header = (
            "ply\nformat binary_little_endian 1.0\ncomment units nm\n"
            f"element vertex {len(mesh.vertices)}\n"
            "property float x\nproperty float y\nproperty float z\n"
            "property float nx\nproperty float ny\nproperty float nz\n"
            f"element face {len(mesh.faces)}\n"
            "property list uchar int vertex_indices\nend_header\n"
        )
        vrec = np.hstack([mesh.vertices, mesh.normals]).astype("<f4")
        frec = np.empty(len(mesh.faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
        frec["n"] = 3
        frec["i"] = mesh.faces
        with open(path, "wb") as fh:
            fh.write(header.encode("ascii"))
            fh.write(vrec.tobytes())
            fh.write(frec.tobytes())
    else:
        raise IsoSurfaceError(f"mesh file {path.name!r}: use .ply, .obj or .npz")
    return path
