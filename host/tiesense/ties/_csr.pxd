# cython: language_level=3
"""Inline helpers shared by the CSR kernels (cimported; no module of its own)."""
from libc.stdint cimport int32_t, int64_t


cdef inline int64_t first_above(const int32_t[::1] indices, int64_t lo, int64_t hi,
                                int32_t u) noexcept nogil:
    """First position in the sorted ``indices[lo:hi]`` holding a value greater than ``u``.

    In a CSR row of node ``u`` this is where the half-edges ``(u, v)`` with
    ``v > u`` start: each undirected edge is then visited once.
    """
    cdef int64_t mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] <= u:
            lo = mid + 1
        else:
            hi = mid
    return lo
