"""Writes the report files a run asks for (JSON, JUnit XML, HTML) from one `RunReport`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from conformance.reports.model import RunReport, write_json

__all__ = ["write_reports"]


def _writers() -> dict[str, Callable[[RunReport, Path], None]]:
    from conformance.reports.html import write_html
    from conformance.reports.junit import write_junit

    return {"json": write_json, "junit": write_junit, "html": write_html}


def write_reports(report: RunReport, paths: Mapping[str, Path | None]) -> None:
    """Write each report that has a path (format → file); OSError if one cannot be written."""
    for name, write in _writers().items():
        path = paths.get(name)
        if path is not None:
            write(report, path)
