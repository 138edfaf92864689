# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Burt's constraint and effective size over CSR arrays (weighted, undirected).

With symmetric ties the NetworkX "normalised mutual weight" is
``p_ij = (w_ij + w_ji) / sum_k (w_ik + w_ki) = w_ij / s_i`` and the max-norm
one is ``m_ij = w_ij / max_k w_ik``. Inputs are checked CSR arrays (see
``structure.py``) with positive weights; isolated nodes get NaN, as in
NetworkX.
"""
import numpy as np

from libc.math cimport NAN
from libc.stdint cimport int32_t, int64_t


def constraint(const int64_t[::1] indptr, const int32_t[::1] indices,
               const double[::1] data):
    """Burt's constraint ``c_i`` of every node.

    ``c_i = sum_{j in N(i)} (p_ij + sum_q p_iq p_qj) ** 2`` with ``q`` over
    the common neighbours of ``i`` and ``j`` (NetworkX and igraph agree on
    this definition). A dense scratch vector holds ``p_iq / s_q`` for the
    ego's neighbours while each neighbour ``j``'s row is scanned, so
    ``sum_q p_iq p_qj = sum_{q in N(j)} scratch[q] * w_jq``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out_a = np.empty(n, dtype=np.float64)
    inv_a = np.zeros(n, dtype=np.float64)
    p_a = np.zeros(n, dtype=np.float64)
    cdef double[::1] out = out_a, inv_s = inv_a, p = p_a
    cdef Py_ssize_t i
    cdef int64_t e, f
    cdef int32_t j
    cdef double s, t, c
    with nogil:
        for i in range(n):
            s = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                s = s + data[e]
            inv_s[i] = 1.0 / s if s > 0.0 else 0.0
        for i in range(n):
            if indptr[i + 1] == indptr[i]:
                out[i] = NAN
                continue
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                p[j] = data[e] * inv_s[i] * inv_s[j]
            c = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                t = 0.0
                for f in range(indptr[j], indptr[j + 1]):
                    t = t + p[indices[f]] * data[f]
                t = t + data[e] * inv_s[i]
                c = c + t * t
            for e in range(indptr[i], indptr[i + 1]):
                p[indices[e]] = 0.0
            out[i] = c
    return out_a


def effective_size(const int64_t[::1] indptr, const int32_t[::1] indices,
                   const double[::1] data):
    """Burt's effective size of every node, NetworkX's weighted definition.

    ``e_i = sum_{j in N(i)} (1 - sum_{q in N(i)} p_iq m_jq)``: a dense scratch
    vector holds ``p_iq`` for the ego's neighbours while each neighbour's row
    is scanned.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out_a = np.empty(n, dtype=np.float64)
    inv_a = np.zeros(n, dtype=np.float64)
    max_a = np.zeros(n, dtype=np.float64)
    p_a = np.zeros(n, dtype=np.float64)
    cdef double[::1] out = out_a, inv_s = inv_a, inv_max = max_a, p = p_a
    cdef Py_ssize_t i
    cdef int64_t e, f
    cdef int32_t j
    cdef double s, mx, r, es
    with nogil:
        for i in range(n):
            s = 0.0
            mx = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                s = s + data[e]
                if data[e] > mx:
                    mx = data[e]
            inv_s[i] = 1.0 / s if s > 0.0 else 0.0
            inv_max[i] = 1.0 / mx if mx > 0.0 else 0.0
        for i in range(n):
            if indptr[i + 1] == indptr[i]:
                out[i] = NAN
                continue
            for e in range(indptr[i], indptr[i + 1]):
                p[indices[e]] = data[e] * inv_s[i]
            es = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                r = 0.0
                for f in range(indptr[j], indptr[j + 1]):
                    r = r + p[indices[f]] * data[f]
                es = es + 1.0 - r * inv_max[j]
            for e in range(indptr[i], indptr[i + 1]):
                p[indices[e]] = 0.0
            out[i] = es
    return out_a
