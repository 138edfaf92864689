# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Exponentially decayed interaction rate per dyad: the live table and the batch kernel.

Bounds checks are off: every slot index comes from this module's own dict
(``0 <= slot < self._n <= capacity``), and the batch kernel's dyad ids are
checked by ``decay.decay_batch`` before the call.

State per dyad is ``(value, last)``: the decayed sum of amounts as of time
``last``. An observation at ``t >= last`` is
``value = value * 2^(-(t - last) / h) + amount; last = t``; one that arrives
late (``t < last``, e.g. a kiosk offloading its log) is folded in exactly as
``value += amount * 2^(-(last - t) / h)``. Both are O(1).
"""
from libc.math cimport exp2, isfinite

import numpy as np

cdef long long _MAX_ID = 2147483647


cdef inline void _fold(double* value, double* last, double t, double amount, double inv_h) noexcept nogil:
    cdef double dt = t - last[0]
    if dt >= 0.0:
        value[0] = value[0] * exp2(-dt * inv_h) + amount
        last[0] = t
    else:
        value[0] = value[0] + amount * exp2(dt * inv_h)


cdef class DecayTable:
    """DecayTable(half_life, capacity=1024)

    Live table of decayed interaction rates, one slot per unordered dyad.

    Parameters
    ----------
    half_life : float, > 0, in the unit of the time stamps (e.g. days)
    capacity : int, initial number of dyad slots (doubles when full)

    Examples
    --------
    >>> tab = DecayTable(half_life=10.0)
    >>> tab.observe(3, 1, 0.0)
    >>> tab.observe(1, 3, 10.0, 2.0)
    >>> tab.value(1, 3, 20.0)
    1.25
    >>> u, v, w = tab.snapshot(20.0)
    >>> u.tolist(), v.tolist(), w.tolist()
    ([1], [3], [1.25])
    """

    cdef readonly double half_life
    cdef double _inv_h
    cdef dict _slot
    cdef Py_ssize_t _n
    cdef object _u_arr, _v_arr, _val_arr, _last_arr
    cdef long long[::1] _u
    cdef long long[::1] _v
    cdef double[::1] _val
    cdef double[::1] _last

    def __cinit__(self, double half_life, Py_ssize_t capacity=1024):
        if not (half_life > 0.0 and isfinite(half_life)):
            raise ValueError("half_life must be a positive finite number")
        self.half_life = half_life
        self._inv_h = 1.0 / half_life
        self._slot = {}
        self._n = 0
        self._alloc(max(capacity, 16))

    cdef void _alloc(self, Py_ssize_t cap) except *:
        u = np.empty(cap, dtype=np.int64)
        v = np.empty(cap, dtype=np.int64)
        val = np.empty(cap, dtype=np.float64)
        last = np.empty(cap, dtype=np.float64)
        if self._n:
            u[:self._n] = self._u_arr[:self._n]
            v[:self._n] = self._v_arr[:self._n]
            val[:self._n] = self._val_arr[:self._n]
            last[:self._n] = self._last_arr[:self._n]
        self._u_arr, self._v_arr, self._val_arr, self._last_arr = u, v, val, last
        self._u, self._v, self._val, self._last = u, v, val, last

    def __len__(self):
        return self._n

    cdef int _observe(self, long long u, long long v, double t, double amount) except -1:
        cdef long long a, b, key
        cdef Py_ssize_t i
        if u > v:
            a, b = v, u
        else:
            a, b = u, v
        if a < 0 or b > _MAX_ID or a == b:
            raise ValueError(f"bad dyad ({u}, {v}): ids must be distinct and in [0, 2**31)")
        if not (isfinite(t) and isfinite(amount)):
            raise ValueError("t and amount must be finite")
        key = (a << 32) | b
        slot = self._slot.get(key)
        if slot is None:
            i = self._n
            if i == self._u.shape[0]:
                self._alloc(2 * i)
            self._u[i] = a
            self._v[i] = b
            self._val[i] = amount
            self._last[i] = t
            self._slot[key] = i
            self._n = i + 1
        else:
            i = <Py_ssize_t>slot
            _fold(&self._val[i], &self._last[i], t, amount, self._inv_h)
        return 0

    def observe(self, long long u, long long v, double t, double amount=1.0):
        """observe(u, v, t, amount=1.0)

        Add ``amount`` to dyad ``{u, v}`` at time ``t``; O(1), any arrival order.
        """
        self._observe(u, v, t, amount)

    def observe_many(self, u, v, t, amount=None):
        """observe_many(u, v, t, amount=None)

        :meth:`observe` each event of parallel arrays in order (one ingest batch).
        Events before an invalid one are applied; the invalid one raises.
        """
        cdef const long long[::1] uu = np.ascontiguousarray(u, dtype=np.int64)
        cdef const long long[::1] vv = np.ascontiguousarray(v, dtype=np.int64)
        cdef const double[::1] tt = np.ascontiguousarray(t, dtype=np.float64)
        cdef const double[::1] aa = (np.ones(tt.shape[0]) if amount is None
                                     else np.ascontiguousarray(amount, dtype=np.float64))
        if not (uu.shape[0] == vv.shape[0] == tt.shape[0] == aa.shape[0]):
            raise ValueError("u, v, t and amount must have the same length")
        cdef Py_ssize_t e
        for e in range(tt.shape[0]):
            self._observe(uu[e], vv[e], tt[e], aa[e])

    def value(self, long long u, long long v, double t):
        """value(u, v, t)

        Decayed value of dyad ``{u, v}`` at time ``t`` (0 if never observed).
        Reading before the dyad's last observation raises ``ValueError``.
        """
        cdef long long a = u if u < v else v
        cdef long long b = v if u < v else u
        slot = self._slot.get((a << 32) | b)
        if slot is None:
            return 0.0
        cdef Py_ssize_t i = <Py_ssize_t>slot
        if t < self._last[i]:
            raise ValueError(f"cannot read dyad ({a}, {b}) at {t}, before its last observation {self._last[i]}")
        return self._val[i] * exp2(-(t - self._last[i]) * self._inv_h)

    def state(self):
        """state()

        Copies of ``(u, v, value, last)`` per dyad, in insertion order, undecayed.
        """
        n = self._n
        return (self._u_arr[:n].copy(), self._v_arr[:n].copy(),
                self._val_arr[:n].copy(), self._last_arr[:n].copy())

    @classmethod
    def from_state(cls, double half_life, u, v, value, last):
        """from_state(half_life, u, v, value, last)

        Rebuild a table from :meth:`state` (e.g. after a restart of ingest).
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        value = np.asarray(value, dtype=np.float64)
        last = np.asarray(last, dtype=np.float64)
        if not (len(u) == len(v) == len(value) == len(last)):
            raise ValueError("state arrays must have the same length")
        if len(u) and ((u < 0).any() or (u >= v).any() or (v > _MAX_ID).any()):
            raise ValueError("state needs 0 <= u < v < 2**31")
        cdef DecayTable tab = cls(half_life, capacity=len(u))
        cdef Py_ssize_t i
        keys = (u << 32) | v
        if len(np.unique(keys)) != len(keys):
            raise ValueError("state has repeated dyads")
        for i in range(len(u)):
            tab._slot[int(keys[i])] = i
        n = len(u)
        tab._u_arr[:n] = u
        tab._v_arr[:n] = v
        tab._val_arr[:n] = value
        tab._last_arr[:n] = last
        tab._n = n
        return tab

    def __reduce__(self):
        return (_rebuild, (self.half_life,) + self.state())

    def snapshot(self, double t):
        """snapshot(t)

        Every dyad decayed to time ``t``, as arrays ``(u, v, value)`` sorted by ``(u, v)``.
        Raises ``ValueError`` when a dyad was observed after ``t``.
        """
        u, v, val, last = self.state()
        if len(last) and last.max() > t:
            raise ValueError(f"a dyad was observed at {last.max()}, after the snapshot time {t}")
        out = val * np.exp2(-(t - last) * self._inv_h)
        order = np.lexsort((v, u))
        return u[order], v[order], out[order]


def _rebuild(half_life, u, v, value, last):
    return DecayTable.from_state(half_life, u, v, value, last)


def decay_events(const long long[::1] dyad, const double[::1] t, const double[::1] amount,
                 Py_ssize_t n_dyads, double half_life):
    """decay_events(dyad, t, amount, n_dyads, half_life)

    Replay events in the given order; return ``(value, last)`` per dyad id.
    The caller guarantees ``0 <= dyad[e] < n_dyads`` and equal lengths.
    """
    value = np.zeros(n_dyads, dtype=np.float64)
    last = np.full(n_dyads, np.nan, dtype=np.float64)
    cdef double[::1] val = value
    cdef double[::1] lst = last
    cdef unsigned char[::1] seen_arr = np.zeros(n_dyads, dtype=np.uint8)
    cdef double inv_h = 1.0 / half_life
    cdef Py_ssize_t e, d
    with nogil:
        for e in range(dyad.shape[0]):
            d = dyad[e]
            if seen_arr[d]:
                _fold(&val[d], &lst[d], t[e], amount[e], inv_h)
            else:
                val[d] = amount[e]
                lst[d] = t[e]
                seen_arr[d] = 1
    return value, last
