"""Pure-Python references for the Cython kernels: slow, obvious, and the yardstick in tests."""
from __future__ import annotations


def strength(indptr, data, alpha: float = 0.0) -> list[float]:
    """Opsahl et al. (2010) generalised degree, one node at a time."""
    out = []
    for i in range(len(indptr) - 1):
        k = indptr[i + 1] - indptr[i]
        s = sum(data[indptr[i]:indptr[i + 1]])
        out.append(0.0 if k == 0 else (k ** (1.0 - alpha)) * (s ** alpha))
    return out
