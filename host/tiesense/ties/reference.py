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


# --- structural measures: plain dicts and sets, straight from the definitions ---

def _adjacency(indptr, indices, data=None) -> list[dict]:
    """``adj[i][j] = w_ij`` from CSR lists (weights 1.0 when ``data`` is None)."""
    adj = []
    for i in range(len(indptr) - 1):
        row = {}
        for e in range(indptr[i], indptr[i + 1]):
            row[indices[e]] = 1.0 if data is None else data[e]
        adj.append(row)
    return adj


def edges(indptr, indices) -> list[tuple[int, int]]:
    """Each edge once, ``u < v``, in CSR order (``Graph.edges()`` order)."""
    return [(i, j) for i in range(len(indptr) - 1)
            for j in indices[indptr[i]:indptr[i + 1]] if i < j]


def common_neighbours(indptr, indices) -> list[int]:
    """``|N(u) & N(v)|`` of every edge, by set intersection."""
    adj = _adjacency(indptr, indices)
    return [len(set(adj[u]) & set(adj[v])) for u, v in edges(indptr, indices)]


def overlap(indptr, indices) -> list[float]:
    """Onnela et al. (2007): ``n_uv / ((k_u - 1) + (k_v - 1) - n_uv)``, 0 if undefined."""
    adj = _adjacency(indptr, indices)
    out = []
    for u, v in edges(indptr, indices):
        c = len(set(adj[u]) & set(adj[v]))
        den = (len(adj[u]) - 1) + (len(adj[v]) - 1) - c
        out.append(c / den if den > 0 else 0.0)
    return out


def clustering(indptr, indices) -> list[float]:
    """Watts-Strogatz local clustering: linked pairs of neighbours over all pairs."""
    adj = _adjacency(indptr, indices)
    out = []
    for i, row in enumerate(adj):
        nb = sorted(row)
        k = len(nb)
        if k < 2:
            out.append(0.0)
            continue
        links = sum(1 for a in range(k) for b in range(a + 1, k) if nb[b] in adj[nb[a]])
        out.append(2.0 * links / (k * (k - 1)))
    return out


def disparity(indptr, indices, data) -> list[float]:
    """Serrano et al. (2009): ``min`` over both ends of ``(1 - w/s) ** (k - 1)``; 1 at degree 1."""
    adj = _adjacency(indptr, indices, data)

    def end_alpha(i, w):
        k = len(adj[i])
        if k == 1:
            return 1.0
        return (1.0 - w / sum(adj[i].values())) ** (k - 1)

    return [min(end_alpha(u, adj[u][v]), end_alpha(v, adj[u][v]))
            for u, v in edges(indptr, indices)]


def degree_centralization(indptr) -> float:
    """Freeman (1979): ``sum(k_max - k_i) / ((n - 1)(n - 2))``; NaN below 3 nodes."""
    n = len(indptr) - 1
    if n < 3:
        return float("nan")
    k = [indptr[i + 1] - indptr[i] for i in range(n)]
    return sum(max(k) - x for x in k) / ((n - 1) * (n - 2))


def constraint(indptr, indices, data) -> list[float]:
    """Burt (1992) constraint with ``p_ij = w_ij / s_i``, ``j`` over neighbours."""
    adj = _adjacency(indptr, indices, data)

    def p(i, j):
        return adj[i].get(j, 0.0) / sum(adj[i].values())

    out = []
    for i, row in enumerate(adj):
        if not row:
            out.append(float("nan"))
            continue
        out.append(sum((p(i, j) + sum(p(i, q) * p(q, j) for q in row if q != j)) ** 2
                       for j in row))
    return out


def effective_size(indptr, indices, data) -> list[float]:
    """Burt (1992) effective size, ``m_jq = w_jq / max_x w_jx`` (NetworkX weighted form)."""
    adj = _adjacency(indptr, indices, data)
    out = []
    for i, row in enumerate(adj):
        if not row:
            out.append(float("nan"))
            continue
        s_i = sum(row.values())
        total = 0.0
        for j in row:
            mx = max(adj[j].values())
            total += 1.0 - sum(row[q] / s_i * adj[j].get(q, 0.0) / mx for q in row)
        out.append(total)
    return out


def betweenness(indptr, indices, data, normalized=True, weighted=True, rtol=1e-10) -> list[float]:
    """Betweenness by brute force over all pairs, not by Brandes' recursion.

    All-pairs distances by Dijkstra (``1/w``, or hops), path counts
    ``sigma[s][t]`` summed over predecessors in order of distance, then
    ``b(v) = sum_{s<t} sigma_sv sigma_vt / sigma_st`` over pairs with
    ``d_sv + d_vt = d_st``. Lengths compare equal within ``rtol`` times
    their sum (igraph's rule); pass a tiny ``rtol`` for exact ties.
    """
    import heapq

    adj = _adjacency(indptr, indices, data)
    n = len(adj)

    def length(i, j):
        return 1.0 / adj[i][j] if weighted else 1.0

    def same(a, b):
        return abs(a - b) <= rtol * (a + b)

    dist = []
    for s in range(n):
        d = {s: 0.0}
        heap = [(0.0, s)]
        done = set()
        while heap:
            ds, x = heapq.heappop(heap)
            if x in done:
                continue
            done.add(x)
            for y in adj[x]:
                nd = ds + length(x, y)
                if y not in d or nd < d[y]:
                    d[y] = nd
                    heapq.heappush(heap, (nd, y))
        dist.append(d)
    sigma = []
    for s in range(n):
        sig = {s: 1.0}
        for t in sorted(dist[s], key=dist[s].get):
            if t == s:
                continue
            sig[t] = sum(sig[x] for x in adj[t]
                         if x in dist[s] and dist[s][x] < dist[s][t]
                         and same(dist[s][x] + length(x, t), dist[s][t]))
        sigma.append(sig)
    bc = [0.0] * n
    for s in range(n):
        for t in range(s + 1, n):
            if t not in dist[s]:
                continue
            for v in range(n):
                if v in (s, t) or v not in dist[s]:
                    continue
                if same(dist[s][v] + dist[v][t], dist[s][t]):
                    bc[v] += sigma[s][v] * sigma[v][t] / sigma[s][t]
    if normalized and n > 2:
        bc = [2.0 * b / ((n - 1) * (n - 2)) for b in bc]
    return bc


BROKERAGE_ROLES = ("coordinator", "itinerant", "gatekeeper", "representative", "liaison")


def brokerage(indptr, indices, groups) -> dict[str, list[int]]:
    """Gould & Fernandez (1989) roles by enumerating every two-path ``a -> v -> b``.

    Symmetric ties: both ``a -> v -> b`` and ``b -> v -> a`` are counted, for
    ``a != b`` not adjacent.
    """
    adj = _adjacency(indptr, indices)
    out = {role: [0] * len(adj) for role in BROKERAGE_ROLES}
    for v, row in enumerate(adj):
        for a in row:
            for b in row:
                if a == b or b in adj[a]:
                    continue
                ga, gv, gb = groups[a], groups[v], groups[b]
                if ga == gv == gb:
                    role = "coordinator"
                elif ga == gb:
                    role = "itinerant"
                elif gv == gb:
                    role = "gatekeeper"
                elif ga == gv:
                    role = "representative"
                else:
                    role = "liaison"
                out[role][v] += 1
    return out
