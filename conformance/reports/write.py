"""Writes the report files a run asks for (`--spt-json`, `--spt-junit`, `--spt-html`) from one `RunReport`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from conformance.reports.model import RunReport, output_path_problem, write_json

__all__ = ["REPORT_OPTIONS", "report_path_problems", "write_reports"]

REPORT_OPTIONS = ("--spt-json", "--spt-junit", "--spt-html")


def _writers() -> dict[str, Callable[[RunReport, Path], None]]:
    from conformance.reports.html import write_html
    from conformance.reports.junit import write_junit

    return {"--spt-json": write_json, "--spt-junit": write_junit, "--spt-html": write_html}


def report_path_problems(paths: Mapping[str, str | None]) -> list[str]:
    """Why a report file could not be written, checked before the run rather than after it."""
    return [p for option in REPORT_OPTIONS if (p := output_path_problem(option, paths.get(option)))]


def write_reports(report: RunReport, paths: Mapping[str, str | None]) -> None:
    """Write each report whose option was given (option → file name); OSError if one cannot be."""
    for option, write in _writers().items():
        path = paths.get(option)
        if path:
            write(report, Path(path))
