"""Tie-strength estimators and cluster network measures over CSR graphs."""

from .graph import Graph

__all__ = ["Graph"]
