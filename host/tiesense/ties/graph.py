"""Compact undirected weighted graph in CSR form, the input of every kernel.

Nodes are ``0..n-1`` (``labels`` maps them to organisation ids). Each
undirected edge appears twice in the CSR arrays (once from each end), with
neighbour lists sorted, no self-loops and no parallel edges (duplicates are
summed when the graph is built).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Graph:
    """CSR arrays of an undirected weighted graph.

    Attributes
    ----------
    indptr : int64 array, length n + 1
    indices : int32 array, neighbours of node i in ``indices[indptr[i]:indptr[i+1]]``, sorted
    data : float64 array, the weight of each stored half-edge
    labels : list, the external id of each node
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    labels: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def m(self) -> int:
        """Number of undirected edges."""
        return len(self.indices) // 2

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each undirected edge once, as arrays ``(u, v, w)`` with ``u < v``."""
        src = np.repeat(np.arange(self.n, dtype=np.int32), self.degree())
        keep = src < self.indices
        return src[keep], self.indices[keep], self.data[keep]

    @classmethod
    def from_edges(cls, u, v, w=None, n: int | None = None, labels=None) -> "Graph":
        """Build from parallel arrays of endpoints (and weights, default 1).

        Self-loops are dropped; repeated pairs (in either direction) are summed.

        Examples
        --------
        >>> g = Graph.from_edges([0, 1, 1], [1, 2, 0], [1.0, 2.0, 0.5])
        >>> g.m, g.data.tolist()
        (2, [1.5, 1.5, 2.0, 2.0])
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        w = np.ones(len(u), dtype=np.float64) if w is None else np.asarray(w, dtype=np.float64)
        if not (len(u) == len(v) == len(w)):
            raise ValueError("u, v and w must have the same length")
        if len(u) and (u.min() < 0 or v.min() < 0):
            raise ValueError("node ids must be non-negative")
        if n is None:
            n = int(max(u.max(initial=-1), v.max(initial=-1)) + 1)
        keep = u != v
        u, v, w = u[keep], v[keep], w[keep]
        src = np.concatenate([u, v])
        dst = np.concatenate([v, u])
        wt = np.concatenate([w, w])
        key = src * n + dst
        order = np.argsort(key, kind="stable")
        key, wt = key[order], wt[order]
        uniq, start = np.unique(key, return_index=True)
        data = np.add.reduceat(wt, start) if len(wt) else wt
        src = (uniq // n).astype(np.int64)
        indices = (uniq % n).astype(np.int32)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return cls(indptr, indices, np.ascontiguousarray(data, dtype=np.float64),
                   list(labels) if labels is not None else list(range(n)))

    @classmethod
    def from_networkx(cls, G, weight: str = "weight") -> "Graph":
        """Build from a NetworkX graph (used by tests and benchmarks)."""
        nodes = list(G.nodes())
        index = {x: i for i, x in enumerate(nodes)}
        u, v, w = [], [], []
        for a, b, d in G.edges(data=True):
            u.append(index[a])
            v.append(index[b])
            w.append(float(d.get(weight, 1.0)))
        return cls.from_edges(u, v, w, n=len(nodes), labels=nodes)
