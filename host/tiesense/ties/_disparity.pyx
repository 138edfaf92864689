# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Disparity-filter significance of every edge (Serrano, Boguna & Vespignani 2009).

For endpoint ``i`` of degree ``k_i > 1`` and strength ``s_i``, the edge
weight share ``p = w / s_i`` has ``alpha_i = (1 - p) ** (k_i - 1)``; an
endpoint of degree 1 gives ``alpha_i = 1`` (the formula's ``0 ** 0``: a lone
tie carries no evidence). The edge's alpha is the minimum over its two ends.
Inputs are checked CSR arrays (see ``structure.py``), edges in
``Graph.edges()`` order.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t

from ._csr cimport first_above


cdef struct _End:
    double inv_s   # 1 / strength
    double km1     # degree - 1


def disparity_alpha(const int64_t[::1] indptr, const int32_t[::1] indices,
                    const double[::1] data):
    """Alpha of every edge ``u < v`` (float64 array of length m).

    One nogil pass writes each edge's two bases ``1 - w / s`` and exponents
    ``k - 1``; the powers are then taken by ``numpy.power`` over whole
    arrays, whose SIMD loops are several times faster than a scalar ``pow``
    per edge. An exponent 0 (degree-1 endpoint) gives 1, also for base 0.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int64_t m = indptr[n] // 2
    ends_b = np.empty(n * sizeof(_End), dtype=np.uint8)
    cdef unsigned char[::1] ends_mv = ends_b
    cdef _End* ends = NULL
    if n:
        ends = <_End*>&ends_mv[0]
    bu_a = np.empty(m, dtype=np.float64)
    eu_a = np.empty(m, dtype=np.float64)
    bv_a = np.empty(m, dtype=np.float64)
    ev_a = np.empty(m, dtype=np.float64)
    cdef double[::1] bu = bu_a, eu = eu_a, bv = bv_a, ev = ev_a
    cdef Py_ssize_t u
    cdef int64_t e, lo, j = 0
    cdef double acc, w, x
    cdef _End nu, nv
    with nogil:
        for u in range(n):
            acc = 0.0
            for e in range(indptr[u], indptr[u + 1]):
                acc = acc + data[e]
            ends[u].inv_s = 1.0 / acc if acc > 0.0 else 0.0
            ends[u].km1 = <double>(indptr[u + 1] - indptr[u] - 1)
        for u in range(n):
            lo = first_above(indices, indptr[u], indptr[u + 1], <int32_t>u)
            nu = ends[u]
            for e in range(lo, indptr[u + 1]):
                w = data[e]
                nv = ends[indices[e]]
                x = 1.0 - w * nu.inv_s
                bu[j] = x if x > 0.0 else 0.0
                eu[j] = nu.km1
                x = 1.0 - w * nv.inv_s
                bv[j] = x if x > 0.0 else 0.0
                ev[j] = nv.km1
                j += 1
    np.power(bu_a, eu_a, out=bu_a)
    np.power(bv_a, ev_a, out=bv_a)
    np.minimum(bu_a, bv_a, out=bu_a)
    return bu_a
