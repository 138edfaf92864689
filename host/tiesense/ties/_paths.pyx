# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
# distutils: extra_compile_args = -fopenmp
# distutils: extra_link_args = -fopenmp
"""Weighted betweenness (Brandes 2001) and Gould-Fernandez brokerage over CSR arrays.

Inputs are checked CSR arrays of a symmetric graph (see ``structure.py``):
rows sorted, no self-loops, positive finite weights, so every index below is
in range.
"""
import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport int32_t, int64_t


cdef inline void _heap_push(double* hd, int32_t* hv, int64_t* size,
                            double d, int32_t v) noexcept nogil:
    """Push ``(d, v)`` on a binary min-heap stored in ``hd``/``hv``."""
    cdef int64_t i = size[0]
    cdef int64_t parent
    size[0] = i + 1
    while i > 0:
        parent = (i - 1) >> 1
        if hd[parent] <= d:
            break
        hd[i] = hd[parent]
        hv[i] = hv[parent]
        i = parent
    hd[i] = d
    hv[i] = v


cdef inline void _heap_pop(double* hd, int32_t* hv, int64_t* size,
                           double* d, int32_t* v) noexcept nogil:
    """Pop the smallest ``(d, v)`` of a non-empty heap."""
    cdef int64_t n = size[0] - 1
    cdef int64_t i = 0
    cdef int64_t c
    cdef double ld = hd[n]
    cdef int32_t lv = hv[n]
    d[0] = hd[0]
    v[0] = hv[0]
    size[0] = n
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and hd[c + 1] < hd[c]:
            c += 1
        if ld <= hd[c]:
            break
        hd[i] = hd[c]
        hv[i] = hv[c]
        i = c
    hd[i] = ld
    hv[i] = lv


cdef void _brandes_source(Py_ssize_t s, const int64_t[::1] indptr, const int32_t[::1] indices,
                          const double[::1] length, double rtol,
                          double* bc, double* dist, double* sigma, double* delta,
                          int32_t* order, int64_t* npred, int32_t* pred,
                          unsigned char* done, double* hd, int32_t* hv) noexcept nogil:
    """One Dijkstra from ``s`` and the dependency accumulation into ``bc``.

    Scratch arrays come in cleared (``dist`` -1, the rest 0) and are left
    cleared for the next source.
    """
    cdef int64_t size = 0
    cdef int64_t nseen = 0
    cdef int64_t e, k, base
    cdef int32_t v, w, x
    cdef double d, nd, coeff
    dist[s] = 0.0
    sigma[s] = 1.0
    _heap_push(hd, hv, &size, 0.0, <int32_t>s)
    while size > 0:
        _heap_pop(hd, hv, &size, &d, &v)
        if done[v] or d > dist[v]:
            continue
        done[v] = 1
        order[nseen] = v
        nseen += 1
        for e in range(indptr[v], indptr[v + 1]):
            w = indices[e]
            if done[w]:
                continue
            nd = d + length[e]
            if dist[w] < 0.0 or nd < dist[w] - rtol * (nd + dist[w]):
                dist[w] = nd
                sigma[w] = sigma[v]
                npred[w] = 1
                pred[indptr[w]] = v
                _heap_push(hd, hv, &size, nd, w)
            elif nd <= dist[w] + rtol * (nd + dist[w]):
                sigma[w] += sigma[v]
                pred[indptr[w] + npred[w]] = v
                npred[w] += 1
    # dependencies in reverse order of distance
    k = nseen - 1
    while k >= 0:
        w = order[k]
        coeff = (1.0 + delta[w]) / sigma[w]
        base = indptr[w]
        for e in range(base, base + npred[w]):
            x = pred[e]
            delta[x] += sigma[x] * coeff
        if w != s:
            bc[w] += delta[w]
        k -= 1
    for k in range(nseen):
        w = order[k]
        dist[w] = -1.0
        sigma[w] = 0.0
        delta[w] = 0.0
        npred[w] = 0
        done[w] = 0


def betweenness(const int64_t[::1] indptr, const int32_t[::1] indices,
                const double[::1] length, double rtol=0.0, int threads=1):
    """Brandes betweenness summed over ordered source-target pairs.

    ``length`` is the length of each half-edge (e.g. ``1 / weight``). One
    Dijkstra per source with a lazy binary heap (stale entries are skipped
    when popped). Two path lengths ``a``, ``b`` tie when
    ``|a - b| <= rtol * (a + b)``: ``rtol = 0`` is exact float equality, as
    in NetworkX; igraph uses ``1e-10``, which also catches sums such as
    ``1/5 + 1/5 + 1/5`` against ``3/5`` that differ in the last bit.

    Sources are shared among ``threads`` OpenMP threads, each with its own
    scratch arrays and score vector, summed at the end. Returns the raw sum
    over ordered pairs ``(s, t)``: halve it for undirected pair counts.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef int64_t m2 = indptr[n]
    cdef int nt = threads if threads > 0 else 1
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    if nt > n:
        nt = <int>n
    bc_a = np.zeros((nt, n), dtype=np.float64)
    dist_a = np.full((nt, n), -1.0, dtype=np.float64)
    sigma_a = np.zeros((nt, n), dtype=np.float64)
    delta_a = np.zeros((nt, n), dtype=np.float64)
    order_a = np.empty((nt, n), dtype=np.int32)
    npred_a = np.zeros((nt, n), dtype=np.int64)
    pred_a = np.empty((nt, max(m2, 1)), dtype=np.int32)
    done_a = np.zeros((nt, n), dtype=np.uint8)
    hd_a = np.empty((nt, m2 + 1), dtype=np.float64)
    hv_a = np.empty((nt, m2 + 1), dtype=np.int32)
    cdef double[:, ::1] bc = bc_a, dist = dist_a, sigma = sigma_a, delta = delta_a, hd = hd_a
    cdef int32_t[:, ::1] order = order_a, pred = pred_a, hv = hv_a
    cdef int64_t[:, ::1] npred = npred_a
    cdef unsigned char[:, ::1] done = done_a
    cdef Py_ssize_t s
    cdef int tid
    for s in prange(n, nogil=True, num_threads=nt, schedule="dynamic", chunksize=16):
        tid = threadid()
        _brandes_source(s, indptr, indices, length, rtol, &bc[tid, 0], &dist[tid, 0],
                        &sigma[tid, 0], &delta[tid, 0], &order[tid, 0], &npred[tid, 0],
                        &pred[tid, 0], &done[tid, 0], &hd[tid, 0], &hv[tid, 0])
    return bc_a.sum(axis=0)


def brokerage(const int64_t[::1] indptr, const int32_t[::1] indices,
              const int32_t[::1] group, int32_t ngroups):
    """Gould & Fernandez (1989) brokerage counts of every node.

    Counts ordered two-paths ``a -> v -> b`` over symmetric ties with
    ``a != b`` and ``a``, ``b`` not adjacent, by the groups of ``a``, ``v``,
    ``b``. Returns an ``(n, 5)`` int64 array, columns coordinator,
    itinerant, gatekeeper, representative, liaison.

    For broker ``v`` and source ``a``, the candidate targets are the other
    neighbours of ``v``, counted by group from a per-``v`` histogram; the
    common neighbours of ``a`` and ``v`` (adjacent to ``a``) are subtracted
    while scanning ``a``'s row against a stamp array.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    out_a = np.zeros((n, 5), dtype=np.int64)
    cnt_a = np.zeros(max(ngroups, 1), dtype=np.int64)
    stamp_a = np.full(n, -1, dtype=np.int64)
    cdef int64_t[:, ::1] out = out_a
    cdef int64_t[::1] cnt = cnt_a, stamp = stamp_a
    cdef Py_ssize_t v
    cdef int64_t e, f, total, same_v, same_a
    cdef int32_t a, c, gv, ga, gc
    with nogil:
        for v in range(n):
            gv = group[v]
            for e in range(indptr[v], indptr[v + 1]):
                cnt[group[indices[e]]] += 1
                stamp[indices[e]] = v
            for e in range(indptr[v], indptr[v + 1]):
                a = indices[e]
                ga = group[a]
                total = indptr[v + 1] - indptr[v] - 1
                same_v = cnt[gv] - (ga == gv)
                same_a = cnt[ga] - 1
                for f in range(indptr[a], indptr[a + 1]):
                    c = indices[f]
                    if stamp[c] == v:
                        total -= 1
                        gc = group[c]
                        same_v -= gc == gv
                        same_a -= gc == ga
                if ga == gv:
                    out[v, 0] += same_v            # coordinator: a, v, b one group
                    out[v, 3] += total - same_v    # representative: a with v, b outside
                else:
                    out[v, 2] += same_v            # gatekeeper: b with v, a outside
                    out[v, 1] += same_a            # itinerant: a with b, v outside
                    out[v, 4] += total - same_v - same_a  # liaison: three groups
            for e in range(indptr[v], indptr[v + 1]):
                cnt[group[indices[e]]] -= 1
    return out_a
