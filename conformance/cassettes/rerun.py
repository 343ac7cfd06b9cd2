"""`spt-conformance replay DIR`: the suite run again against a recording, its verdicts compared.

The recorded target, seed and selection are passed again, with no server and no network: the
tests judge the recorded responses afresh (`conformance.cassettes.replay` answers their
requests), and the verdicts are compared with the recorded ones.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest

from conformance import __version__
from conformance.cassettes.session import CassetteError, read_manifest
from conformance.invocation import (
    EXIT_USAGE,
    LeanCollector,
    ReportCatcher,
    Stop,
    conclude,
    hypothesis_storage,
    pytest_arguments,
    write_private,
)
from conformance.options import RunOptions, problems
from conformance.progress import Progress
from conformance.spec import SpecError, default_spec

__all__ = ["ReplayOutcome", "ReplayRequest", "replay", "replay_outcome"]


@dataclass(frozen=True)
class ReplayRequest(RunOptions):
    """What `spt-conformance replay` was asked to do: a recording, and the options `replay` offers
    (a part of it by requirement, and the reports); the rest of the options are the recorded ones."""

    directory: Path
    allow_spec_drift: bool = False
    suite: str = "conformance.suite"


@dataclass(frozen=True)
class ReplayOutcome:
    code: int
    verdicts: Mapping[str, str]  # requirement ID -> verdict, as replayed (before expected failures)
    differences: tuple[tuple[str, str, str], ...] = ()  # (ID, recorded, replayed)
    misses: tuple[str, ...] = ()
    message: str = ""  # why there are no verdicts (a usage error)


def replay(
    request: ReplayRequest, *, out: TextIO | None = None, err: TextIO | None = None, live: bool | None = None
) -> int:
    """Replay a recording; 0 or 1 as a run would say, 2 if it cannot be replayed faithfully."""
    return replay_outcome(request, out=out, err=err, live=live).code


def replay_outcome(
    request: ReplayRequest, *, out: TextIO | None = None, err: TextIO | None = None, live: bool | None = None
) -> ReplayOutcome:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    live = out.isatty() if live is None else live
    try:
        try:
            manifest = read_manifest(request.directory)
            spec = default_spec()
        except CassetteError as exc:
            raise Stop(EXIT_USAGE, str(exc)) from None
        except SpecError as exc:
            raise Stop(EXIT_USAGE, f"the specification is broken:\n{exc.render()}") from None
        if manifest.spec_digest != spec.digest:
            drift = (
                f"{request.directory} was recorded against spec sha256 {manifest.spec_digest[:12]}, and this suite's "
                f"spec is {spec.digest[:12]}: requirements or schemas changed since"
            )
            if not request.allow_spec_drift:
                raise Stop(EXIT_USAGE, f"{drift}; record again, or pass --allow-spec-drift to replay anyway")
            err.write(f"spt-conformance replay: warning: {drift}; replaying anyway (--allow-spec-drift)\n")
        recorded = manifest.options
        options = RunOptions(
            only=request.only or tuple(recorded.get("only") or ()),
            skip=(*(recorded.get("skip") or ()), *request.skip),
            seed=manifest.seed,
            max_examples=recorded.get("max_examples"),
            quick=bool(recorded.get("quick")),
            strict=bool(recorded.get("strict")),
            max_wait=recorded.get("max_wait"),
            events=str(recorded.get("events") or "auto"),
            public_url=recorded.get("public_url"),
            json=request.json,
            junit=request.junit,
            html=request.html,
        )
        found = problems(options, spec.catalogue)
        if found:
            raise Stop(EXIT_USAGE, found[0])
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spt-replay-")))
            target_file = workdir / "target.yaml"
            write_private(target_file, manifest.target_mapping())
            out.write(
                f"spt-conformance {__version__}: replaying {request.directory} ({manifest.target.get('name')}, "
                f"recorded {manifest.recorded_at}, seed {manifest.seed}; no server, no network)\n"
            )
            out.flush()
            reference = bool(manifest.target.get("reference"))
            args = pytest_arguments(
                options, target_file, suite=request.suite, reference=reference, workdir=workdir, seed=manifest.seed or 0
            )
            args[-2:-2] = ["--spt-replay", str(request.directory)]
            stack.enter_context(hypothesis_storage(workdir / "hypothesis"))
            progress = Progress(out, live=live)
            catcher = ReportCatcher()
            code = conclude(
                int(pytest.main(args, plugins=[progress, catcher, LeanCollector()])), progress, catcher.report, options, out
            )
        verdicts = {r.requirement.id: r.verdict.value for r in catcher.results or ()}
        differences = tuple(
            (rid, manifest.verdicts[rid], verdict)
            for rid, verdict in verdicts.items()
            if rid in manifest.verdicts and manifest.verdicts[rid] != verdict
        )
        out.write(_comparison(len(verdicts), differences))
        misses = tuple(catcher.misses or ())
        if misses:
            err.write(f"spt-conformance replay: {len(misses)} test(s) made requests the recording does not hold:\n")
            err.write("".join(f"\n{miss}\n" for miss in misses))
            code = EXIT_USAGE
        out.flush()
        return ReplayOutcome(code, verdicts, differences, misses)
    except Stop as stop:
        err.write(f"spt-conformance replay: {stop}\n")
        err.flush()
        return ReplayOutcome(stop.code, {}, message=str(stop))


def _comparison(total: int, differences: Sequence[tuple[str, str, str]]) -> str:
    if not differences:
        return f"\nReplay: all {total} verdicts are the recorded ones.\n"
    lines = [f"\nReplay: {len(differences)} of {total} verdicts differ from the recording:"]
    lines += [f"  {rid}: recorded {recorded}, replayed {replayed}" for rid, recorded, replayed in differences]
    return "\n".join(lines) + "\n"
