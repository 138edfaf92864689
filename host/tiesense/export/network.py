"""The tie network for graph tools: organisations as nodes, tie estimates as edges.

Nodes are the organisations of the current roster plus any roster code a
tie names that the roster lacks (``actor_type`` None). Each carries its
roster fields, ``respondent`` (it answered an interview) and its node
measures (``strength``, ``constraint``... from ``tiesense ties recompute``).
Edges are one estimator's ties (default ``composite``) with ``weight`` (the
estimate), its interval ``low``/``high``, ``observations``, ``confirmed``
and ``disagreement``.

Writers, all undirected and weighted: GraphML and GEXF 1.2 (Gephi, yEd,
networkx), Pajek ``.net``, UCINET DL (``format=edgelist1``) and JSON
(node-link: ``nodes`` and ``edges`` with ``source``/``target``, as
``networkx.node_link_graph(data, edges="edges")`` reads it). The XML is
written here (no graph library at run time).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO, Callable
from xml.sax.saxutils import quoteattr

from ..store import Store, estimates as store_estimates, roster, rows

__all__ = ["Network", "network", "write_graphml", "write_gexf", "write_pajek", "write_ucinet", "write_json"]

Progress = Callable[[int, int], None] | None


@dataclass
class Network:
    nodes: list[dict]
    edges: list[dict]
    estimator: str
    node_attrs: list[tuple[str, str]]  # (name, graphml type)
    edge_attrs: list[tuple[str, str]]

    @property
    def size(self) -> int:
        return len(self.nodes) + len(self.edges)


_EDGE_ATTRS = [("weight", "double"), ("low", "double"), ("high", "double"), ("observations", "int"),
               ("confirmed", "boolean"), ("disagreement", "double")]


def network(store: Store, estimator: str = "composite", names: bool = True) -> Network:
    """The network of one estimator's ties; ``names`` False labels nodes by roster code only."""
    orgs, _ = store.read(roster.organisations)
    ties, _ = store.read(store_estimates.page_estimates, estimator)
    responded = set(store.read(rows.respondent_orgs))
    measures: dict[int, dict] = {}
    kinds = []
    for m in store.org_measures():
        measures.setdefault(m["org"], {})[m["measure"]] = m["value"]
        if m["measure"] not in kinds:
            kinds.append(m["measure"])
    by_code = {o["code"]: o for o in orgs}
    codes = sorted(set(by_code) | {t["u"] for t in ties} | {t["v"] for t in ties})
    nodes = []
    for c in codes:
        o = by_code.get(c, {})
        node = {"id": c, "label": (o.get("name") if names else None) or str(c), "code": c,
                "actor_type": o.get("actor_type"), "region": o.get("region"), "sector": o.get("sector"),
                "size": o.get("size"), "respondent": c in responded}
        node.update({k: measures.get(c, {}).get(k) for k in kinds})
        nodes.append(node)
    edges = [{"source": t["u"], "target": t["v"], "weight": t["value"], "low": t["low"], "high": t["high"],
              "observations": t["observations"],
              "confirmed": None if t["confirmed"] is None else bool(t["confirmed"]),
              "disagreement": t["disagreement"]} for t in sorted(ties, key=lambda t: (t["u"], t["v"]))]
    node_attrs = [("label", "string"), ("code", "int"), ("actor_type", "string"), ("region", "string"),
                  ("sector", "string"), ("size", "string"), ("respondent", "boolean")] + [(k, "double") for k in kinds]
    return Network(nodes, edges, estimator, node_attrs, list(_EDGE_ATTRS))


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _tick(progress: Progress, done: int, total: int) -> None:
    if progress is not None and (done % 500 == 0 or done == total):
        progress(done, total)


def write_graphml(net: Network, out: BinaryIO, progress: Progress = None) -> None:
    """GraphML with typed keys for every node and edge attribute (a None value is left out)."""
    w = out.write
    w(b'<?xml version="1.0" encoding="UTF-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
      b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/'
      b'xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')
    for i, (name, kind) in enumerate(net.node_attrs):
        w(f'<key id="n{i}" for="node" attr.name={quoteattr(name)} attr.type="{kind}"/>\n'.encode())
    for i, (name, kind) in enumerate(net.edge_attrs):
        w(f'<key id="e{i}" for="edge" attr.name={quoteattr(name)} attr.type="{kind}"/>\n'.encode())
    w(f'<graph id={quoteattr("tiesense-" + net.estimator)} edgedefault="undirected">\n'.encode())
    done, total = 0, net.size
    for n in net.nodes:
        data = "".join(f'<data key="n{i}">{_esc(_text(n[name]))}</data>'
                       for i, (name, _) in enumerate(net.node_attrs) if n.get(name) is not None)
        w(f'<node id="{n["id"]}">{data}</node>\n'.encode())
        done += 1
        _tick(progress, done, total)
    for j, e in enumerate(net.edges):
        data = "".join(f'<data key="e{i}">{_esc(_text(e[name]))}</data>'
                       for i, (name, _) in enumerate(net.edge_attrs) if e.get(name) is not None)
        w(f'<edge id="e{j}" source="{e["source"]}" target="{e["target"]}">{data}</edge>\n'.encode())
        done += 1
        _tick(progress, done, total)
    w(b"</graph>\n</graphml>\n")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_GEXF_TYPES = {"string": "string", "int": "integer", "double": "double", "boolean": "boolean"}


def write_gexf(net: Network, out: BinaryIO, progress: Progress = None) -> None:
    """GEXF 1.2 (Gephi): node attributes and edge weights, intervals and counts as edge attributes."""
    w = out.write
    w(b'<?xml version="1.0" encoding="UTF-8"?>\n<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2">\n'
      b'<meta><creator>tiesense</creator></meta>\n<graph defaultedgetype="undirected" mode="static">\n')
    node_attrs = [(n, k) for n, k in net.node_attrs if n != "label"]
    edge_attrs = [(n, k) for n, k in net.edge_attrs if n != "weight"]
    w(b'<attributes class="node">\n')
    for i, (name, kind) in enumerate(node_attrs):
        w(f'<attribute id="{i}" title={quoteattr(name)} type="{_GEXF_TYPES[kind]}"/>\n'.encode())
    w(b'</attributes>\n<attributes class="edge">\n')
    for i, (name, kind) in enumerate(edge_attrs):
        w(f'<attribute id="{i}" title={quoteattr(name)} type="{_GEXF_TYPES[kind]}"/>\n'.encode())
    w(b"</attributes>\n<nodes>\n")
    done, total = 0, net.size

    def values(obj, attrs):
        vals = "".join(f'<attvalue for="{i}" value={quoteattr(_text(obj[name]))}/>'
                       for i, (name, _) in enumerate(attrs) if obj.get(name) is not None)
        return f"<attvalues>{vals}</attvalues>" if vals else ""

    for n in net.nodes:
        w(f'<node id="{n["id"]}" label={quoteattr(n["label"])}>{values(n, node_attrs)}</node>\n'.encode())
        done += 1
        _tick(progress, done, total)
    w(b"</nodes>\n<edges>\n")
    for j, e in enumerate(net.edges):
        weight = f' weight="{_text(float(e["weight"]))}"' if e.get("weight") is not None else ""
        w(f'<edge id="{j}" source="{e["source"]}" target="{e["target"]}"{weight}>{values(e, edge_attrs)}</edge>\n'
          .encode())
        done += 1
        _tick(progress, done, total)
    w(b"</edges>\n</graph>\n</gexf>\n")


def _quoted(label: str) -> str:
    return '"' + label.replace('"', "'") + '"'


def write_pajek(net: Network, out: BinaryIO, progress: Progress = None) -> None:
    """Pajek ``.net``: ``*Vertices`` numbered from 1 with quoted labels, ``*Edges`` with the estimate as weight."""
    index = {n["id"]: i + 1 for i, n in enumerate(net.nodes)}
    lines = [f"*Vertices {len(net.nodes)}"] + [f"{index[n['id']]} {_quoted(n['label'])}" for n in net.nodes]
    lines.append("*Edges")
    for e in net.edges:
        lines.append(f"{index[e['source']]} {index[e['target']]} {_text(float(e['weight'] or 0.0))}")
    out.write(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    if progress:
        progress(net.size, net.size)


def write_ucinet(net: Network, out: BinaryIO, progress: Progress = None) -> None:
    """UCINET DL, ``format=edgelist1``: node labels (quoted) in order, then ``i j weight`` lines from 1."""
    index = {n["id"]: i + 1 for i, n in enumerate(net.nodes)}
    lines = [f"dl n={len(net.nodes)} format=edgelist1", "labels:",
             ",".join(_quoted(n["label"]) for n in net.nodes), "data:"]
    lines += [f"{index[e['source']]} {index[e['target']]} {_text(float(e['weight'] or 0.0))}" for e in net.edges]
    out.write(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    if progress:
        progress(net.size, net.size)


def write_json(net: Network, out: BinaryIO, progress: Progress = None) -> None:
    """Node-link JSON: ``{"directed": false, "multigraph": false, "graph": {...}, "nodes": [...], "edges": [...]}``."""
    body = {"directed": False, "multigraph": False, "graph": {"estimator": net.estimator},
            "nodes": net.nodes, "edges": net.edges}
    out.write(json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"))
    if progress:
        progress(net.size, net.size)
