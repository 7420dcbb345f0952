"""Which triangles can be culled without changing the picture.

A connected piece of a mesh that is closed (every edge shared by exactly two of its
triangles, once in each direction) hides its own back faces from any eye outside it:
a ray from the eye meets a front face of the piece before any back face.  The declared
depth range keeps the eye outside the object's bounding sphere, so culling those back
faces draws the same pixels and skips about half of the piece's triangles (on a
software rasteriser, triangle setup is much of the cost of a frame).  Pieces wound
inwards (negative volume) show their back faces, so their front faces are culled instead.
"""

from __future__ import annotations

import numpy as np

OPEN, OUTWARD, INWARD = 0, 1, -1


def _components(adjacent_a: np.ndarray, adjacent_b: np.ndarray, count: int) -> np.ndarray:
    """Connected-component label (the smallest member) of ``count`` nodes joined by pairs."""
    parent = np.arange(count)
    while True:
        pa, pb = parent[adjacent_a], parent[adjacent_b]
        lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
        join = lo != hi
        if not join.any():
            return parent
        np.minimum.at(parent, hi[join], lo[join])  # hook roots onto smaller roots
        while True:  # then point every node straight at its root
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def closed_pieces(positions: np.ndarray, triangles: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """Per triangle: OUTWARD or INWARD if it belongs to a closed, consistently wound piece
    whose triangles are all ``eligible`` (default: all), else OPEN.

    Vertices at the same position are one vertex (files split them at texture seams).
    """
    t = len(triangles)
    if t == 0:
        return np.zeros(0, np.int8)
    _, ids = np.unique(np.asarray(positions, np.float32), axis=0, return_inverse=True)
    tri = ids.reshape(-1)[np.asarray(triangles, np.int64)]
    start, end = tri.reshape(-1), tri[:, [1, 2, 0]].reshape(-1)  # directed edges, 3 per triangle
    owner = np.repeat(np.arange(t), 3)
    n = int(ids.max()) + 1
    undirected = np.minimum(start, end) * n + np.maximum(start, end)
    order = np.argsort(undirected, kind="stable")
    key = undirected[order]
    group_start = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(group_start) - 1
    size = np.bincount(group)
    forward = np.bincount(group, weights=(start < end)[order])
    # a closed, consistently wound surface: each edge twice, once each way, never degenerate
    good_edge = (size == 2) & (forward == 1) & (key[group_start] // n != key[group_start] % n)
    bad_triangle = np.zeros(t, bool)
    np.logical_or.at(bad_triangle, owner[order], ~good_edge[group])
    if eligible is not None:
        bad_triangle |= ~np.asarray(eligible, bool)
    # triangles that share an edge are in one piece
    first_of_group = order[np.flatnonzero(group_start)][group]
    piece = _components(owner[first_of_group], owner[order], t)
    bad_piece = np.zeros(t, bool)
    np.logical_or.at(bad_piece, piece, bad_triangle)
    p = np.asarray(positions, np.float64)[np.asarray(triangles, np.int64)]
    volume = np.zeros(t)
    np.add.at(volume, piece, np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2])) / 6.0)
    out = np.where(volume[piece] > 0, OUTWARD, INWARD).astype(np.int8)
    out[bad_piece[piece] | (np.abs(volume[piece]) < 1e-9)] = OPEN
    return out
