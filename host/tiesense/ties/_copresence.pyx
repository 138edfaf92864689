# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Pairs of organisations sharing an event, from the event x organisation CSR incidence.

Bounds checks are off: ``copresence.copresence`` builds ``indptr`` (monotone,
``indptr[-1] == len(indices)``) and ``indices`` (sorted, unique per event)
itself, and sizes the output from the same ``indptr``.
"""
import numpy as np


def event_pairs(const long long[::1] indptr, const int[::1] indices):
    """event_pairs(indptr, indices)

    Every pair ``a < b`` of attendees of every event, with Newman's weight
    ``1 / (n_e - 1)``: arrays ``(a, b, w)`` of length ``sum_e n_e (n_e - 1) / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> a, b, w = event_pairs(np.array([0, 3, 4], dtype=np.int64), np.array([0, 2, 5, 1], dtype=np.int32))
    >>> a.tolist(), b.tolist(), w.tolist()
    ([0, 0, 2], [2, 5, 5], [0.5, 0.5, 0.5])
    """
    cdef Py_ssize_t n_events = indptr.shape[0] - 1
    cdef Py_ssize_t e, i, j, k = 0, total = 0, ne
    for e in range(n_events):
        ne = indptr[e + 1] - indptr[e]
        total += ne * (ne - 1) // 2
    a_arr = np.empty(total, dtype=np.int32)
    b_arr = np.empty(total, dtype=np.int32)
    w_arr = np.empty(total, dtype=np.float64)
    cdef int[::1] a = a_arr
    cdef int[::1] b = b_arr
    cdef double[::1] w = w_arr
    cdef double inv
    with nogil:
        for e in range(n_events):
            ne = indptr[e + 1] - indptr[e]
            if ne < 2:
                continue
            inv = 1.0 / (ne - 1)
            for i in range(indptr[e], indptr[e + 1] - 1):
                for j in range(i + 1, indptr[e + 1]):
                    a[k] = indices[i]
                    b[k] = indices[j]
                    w[k] = inv
                    k += 1
    return a_arr, b_arr, w_arr
