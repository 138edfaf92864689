"""Tie-strength estimators and cluster network measures over CSR graphs.

Modules: :mod:`.graph` (the CSR :class:`Graph`), :mod:`.structure` (overlap,
disparity backbone, strength, constraint, betweenness, brokerage),
:mod:`.estimators` (survey composite, dyad reconciliation), :mod:`.decay`
(decayed interaction rates), :mod:`.copresence` (co-presence and its
significance), :mod:`.uncertainty` (bootstrap and Bayesian intervals) and
:mod:`.cluster` (E-I, scope shares, hub dependence, horizontality, triple
helix, wave change). Each Cython kernel ``_<name>.pyx`` has a pure-Python
reference in :mod:`.reference` or :mod:`.reference_estimators`.
"""

from . import cluster, copresence, decay, estimators, structure, uncertainty
from .graph import Graph

__all__ = ["Graph", "cluster", "copresence", "decay", "estimators", "structure", "uncertainty"]
