# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Common neighbours and Onnela neighbourhood overlap of every edge.

Inputs are the CSR arrays of a symmetric graph with sorted rows and no
self-loops; ``structure.py`` checks them, so indices are in range here.
Edges are the half-edges ``(u, v)`` with ``u < v``, in CSR order: the order
of ``Graph.edges()``.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t

from ._csr cimport first_above


def upper_offsets(const int64_t[::1] indptr, const int32_t[::1] indices):
    """Start of the upper part of each row and the edge id of its first entry.

    Returns ``(hi, off)``: ``indices[hi[u]:indptr[u+1]]`` are the neighbours
    of ``u`` greater than ``u``, and the one at position ``p`` is edge
    ``off[u] + p - hi[u]`` in ``Graph.edges()`` order; ``off[n]`` is ``m``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    hi_a = np.empty(n, dtype=np.int64)
    off_a = np.empty(n + 1, dtype=np.int64)
    cdef int64_t[::1] hi = hi_a
    cdef int64_t[::1] off = off_a
    cdef Py_ssize_t u
    with nogil:
        off[0] = 0
        for u in range(n):
            hi[u] = first_above(indices, indptr[u], indptr[u + 1], <int32_t>u)
            off[u + 1] = off[u] + indptr[u + 1] - hi[u]
    return hi_a, off_a


def edge_overlap(const int64_t[::1] indptr, const int32_t[::1] indices):
    """Common neighbours ``n_uv`` and Onnela overlap of every edge ``u < v``.

    Each triangle ``u < v < w`` is found once, by merging the part of row
    ``u`` after ``v`` with the part of row ``v`` after ``v`` (both sorted),
    and counted on its three edges. Overlap is
    ``n_uv / ((k_u - 1) + (k_v - 1) - n_uv)``, 0 when the denominator is 0.

    Returns ``(common, overlap)``, int64 and float64 arrays of length m.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    hi_a, off_a = upper_offsets(indptr, indices)
    cdef int64_t[::1] hi = hi_a
    cdef int64_t[::1] off = off_a
    cdef int64_t m = off[n]
    common_a = np.zeros(m, dtype=np.int64)
    overlap_a = np.empty(m, dtype=np.float64)
    cdef int64_t[::1] common = common_a
    cdef double[::1] ovl = overlap_a
    cdef Py_ssize_t u
    cdef int64_t p, q, r, end_u, end_v, e_uv, base_u, base_v
    cdef int32_t v, a, b
    cdef double den
    with nogil:
        for u in range(n):
            end_u = indptr[u + 1]
            base_u = off[u] - hi[u]
            for p in range(hi[u], end_u):
                v = indices[p]
                e_uv = base_u + p
                end_v = indptr[v + 1]
                base_v = off[v] - hi[v]
                q = p + 1
                r = hi[v]
                while q < end_u and r < end_v:
                    a = indices[q]
                    b = indices[r]
                    if a == b:
                        common[e_uv] += 1
                        common[base_u + q] += 1
                        common[base_v + r] += 1
                    q += a <= b
                    r += b <= a
        for u in range(n):
            base_u = off[u] - hi[u]
            for p in range(hi[u], indptr[u + 1]):
                v = indices[p]
                e_uv = base_u + p
                den = <double>((indptr[u + 1] - indptr[u] - 1) + (indptr[v + 1] - indptr[v] - 1)
                               - common[e_uv])
                ovl[e_uv] = common[e_uv] / den if den > 0 else 0.0
    return common_a, overlap_a


def local_clustering(const int64_t[::1] indptr, const int32_t[::1] indices):
    """Triangles at every node and the local clustering coefficient.

    Same merge as :func:`edge_overlap`, each triangle ``u < v < w`` found
    once and counted at its three corners; ``C_i = 2 T_i / (k_i (k_i - 1))``,
    0 when ``k_i < 2``. Returns ``(triangles int64, clustering float64)``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    hi_a, _ = upper_offsets(indptr, indices)
    cdef int64_t[::1] hi = hi_a
    tri_a = np.zeros(n, dtype=np.int64)
    cc_a = np.zeros(n, dtype=np.float64)
    cdef int64_t[::1] tri = tri_a
    cdef double[::1] cc = cc_a
    cdef Py_ssize_t u
    cdef int64_t p, q, r, end_u, end_v, k, found
    cdef int32_t v, a, b
    with nogil:
        for u in range(n):
            end_u = indptr[u + 1]
            for p in range(hi[u], end_u):
                v = indices[p]
                end_v = indptr[v + 1]
                q = p + 1
                r = hi[v]
                found = 0
                while q < end_u and r < end_v:
                    a = indices[q]
                    b = indices[r]
                    if a == b:
                        tri[a] += 1
                        found += 1
                    q += a <= b
                    r += b <= a
                tri[u] += found
                tri[v] += found
        for u in range(n):
            k = indptr[u + 1] - indptr[u]
            if k > 1:
                cc[u] = 2.0 * tri[u] / (<double>k * (k - 1))
    return tri_a, cc_a
