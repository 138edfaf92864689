# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Node strength with Opsahl's alpha over CSR arrays.

s_i^alpha = k_i^(1 - alpha) * s_i^alpha  (Opsahl, Agneessens & Skvoretz 2010).
"""
from libc.math cimport pow

import numpy as np


def strength(const long long[::1] indptr, const double[::1] data, double alpha=0.0):
    """Opsahl generalised degree k^(1-alpha) * s^alpha of every node.

    alpha = 0 gives the degree, alpha = 1 the strength (sum of weights).
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] res = out
    cdef Py_ssize_t i, e
    cdef double s, k
    with nogil:
        for i in range(n):
            s = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                s = s + data[e]
            k = <double>(indptr[i + 1] - indptr[i])
            if k == 0.0:
                res[i] = 0.0
            elif alpha == 1.0:
                res[i] = s
            elif alpha == 0.0:
                res[i] = k
            else:
                res[i] = pow(k, 1.0 - alpha) * pow(s, alpha)
    return out
