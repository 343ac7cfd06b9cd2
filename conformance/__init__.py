"""spt-conformance: the specification, conformance suite and reference server for SPTs."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
