"""The options of a conformance run, declared once: the CLI and the pytest plugin are made from them.

Theory of operation. `RunOptions` is a frozen dataclass; each field that a user can set carries
a `Flag` in its metadata (help, metavar, parser, choices, the commands that offer it, the group
it is shown in, and its default under `--quick`). From that one declaration:

- `add_cli_arguments` adds `--name` to a command of `spt-conformance` (`run`, `certify`, `replay`);
- `add_pytest_options` adds `--spt-name` to pytest, for the suite run inside a vendor's session;
- `from_namespace` and `from_pytest` read them back, and `pytest_arguments` writes the pytest
  command line that `spt-conformance run` hands to `pytest.main`;
- `resolved` applies the defaults that depend on `--quick`, the same way on both paths.

A field whose default is `None` and whose `Flag` names a `default` takes it when unset, so an
explicit `--max-wait 30` under `--quick` stays 30. `problems` checks what can be checked before a
run (patterns that match no requirement, report paths that cannot be written), for both paths.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from conformance.catalog import Catalogue
from conformance.reports.model import output_path_problem

__all__ = [
    "CERTIFY",
    "DEFAULT_MAX_WAIT",
    "DOCTOR",
    "QUICK_MAX_WAIT",
    "REPLAY",
    "RUN",
    "Flag",
    "RunOptions",
    "add_cli_arguments",
    "add_pytest_options",
    "declared",
    "from_namespace",
    "from_pytest",
    "positive",
    "problems",
    "pytest_arguments",
    "recorded",
    "resolved",
    "workers",
]

DEFAULT_MAX_WAIT: Final = 30.0  # seconds a test may wait for real time to pass or an event to arrive
QUICK_MAX_WAIT: Final = 5.0  # --quick is for pre-commit hooks

# Where a flag is shown in `--help`, in this order.
GROUPS: Final = ("selection and speed", "judgement and time", "reports")
RUN, CERTIFY, REPLAY, DOCTOR = "run", "certify", "replay", "doctor"
_UNSET: Final[Any] = object()


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """A parser of numbers greater than zero, for argparse and pytest alike."""

    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"{value} must be greater than zero")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def workers(value: str) -> str:
    if value in ("auto", "logical") or (value.isdigit() and int(value) >= 0):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of workers or 'auto'")


@dataclass(frozen=True)
class Flag:
    """How a user sets one option, on the command line and in pytest."""

    help: str
    group: str
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    repeat: bool = False  # may be given more than once; the field is a tuple
    commands: frozenset[str] = frozenset({RUN, CERTIFY})
    default: Any = _UNSET  # what an unset (None) field means; shown in --help
    quick: Any = _UNSET  # what it means under --quick
    short: str | None = None  # a one-letter alias on the command line
    pytest: str | None = ""  # the pytest option; "" means --spt-<name>, None means pytest has its own
    recorded: bool = True  # kept in reports and recordings (report paths are the user's business)

    def help_text(self) -> str:
        if self.default is _UNSET:
            return self.help
        quick = "" if self.quick is _UNSET else f"; {self.quick:g} with --quick"
        return f"{self.help} (default {self.default:g}{quick})"


def _option(initial: Any = None, **flag: Any) -> Any:
    """A dataclass field of `RunOptions` holding `initial`, with its `Flag` (whose `default` is
    what an unset field means, not the field's own value)."""
    return field(default=initial, metadata={"flag": Flag(**flag)})


_SELECTION, _JUDGEMENT, _REPORTS = GROUPS


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How one run is made and judged, whichever way it was started (keyword arguments only, so a
    command's request can extend it with positional fields of its own)."""

    only: tuple[str, ...] = _option(
        (),
        help="only these requirements (repeatable)",
        metavar="GLOB|AREA",
        repeat=True,
        group=_SELECTION,
        commands=frozenset({RUN, CERTIFY, REPLAY}),
    )
    skip: tuple[str, ...] = _option(
        (),
        help="leave these requirements out (repeatable)",
        metavar="GLOB|AREA",
        repeat=True,
        group=_SELECTION,
        commands=frozenset({RUN, CERTIFY, REPLAY}),
    )
    seed: int | None = _option(
        help="seed of the generated tests (default: random, printed)", metavar="N", parse=int, group=_SELECTION
    )
    max_examples: int | None = _option(
        help="examples per generated test", metavar="N", parse=positive(int), group=_SELECTION
    )
    quick: bool = _option(
        False,
        help="smoke profile for pre-commit: one test per requirement, tiny generated tests, short waits",
        group=_SELECTION,
        commands=frozenset({RUN}),
    )
    workers: str | None = _option(
        help="run on N processes (pytest-xdist)",
        metavar="N|auto",
        parse=workers,
        short="-n",
        pytest=None,  # pytest-xdist's own -n
        group=_SELECTION,
        commands=frozenset({RUN}),
    )
    strict: bool = _option(False, help="fail decision requirements too, instead of INFO", group=_JUDGEMENT)
    max_wait: float | None = _option(
        help="longest wait, in seconds, for time or events (for the first webhook delivery of all: a third of it, at least 10 s)",
        metavar="S",
        parse=positive(float),
        default=DEFAULT_MAX_WAIT,
        quick=QUICK_MAX_WAIT,
        group=_JUDGEMENT,
    )
    events: str = _option(
        "auto",
        help="how events are observed",
        choices=("auto", "push", "pull"),
        metavar=None,
        group=_JUDGEMENT,
        commands=frozenset({RUN, CERTIFY, DOCTOR}),
    )
    public_url: str | None = _option(
        help="URL at which the target reaches the webhook receiver",
        metavar="URL",
        group=_JUDGEMENT,
        commands=frozenset({RUN, CERTIFY, DOCTOR}),
    )
    receiver_port: int | None = _option(
        help="listen for webhooks on this loopback port (what a tunnel forwards to); default: a free one",
        metavar="PORT",
        parse=int,
        group=_JUDGEMENT,
        commands=frozenset({RUN, CERTIFY, DOCTOR}),
    )
    expected_failures: Path | None = _option(
        help="YAML list of {id, reason, expires} for requirements known to fail",
        metavar="FILE",
        parse=Path,
        group=_REPORTS,
        commands=frozenset({RUN}),
        recorded=False,
    )
    json: Path | None = _option(
        help="write the JSON report",
        metavar="FILE",
        parse=Path,
        group=_REPORTS,
        commands=frozenset({RUN, REPLAY}),
        recorded=False,
    )
    junit: Path | None = _option(
        help="write JUnit XML, one testcase per requirement",
        metavar="FILE",
        parse=Path,
        group=_REPORTS,
        commands=frozenset({RUN, REPLAY}),
        recorded=False,
    )
    html: Path | None = _option(
        help="write a self-contained HTML report",
        metavar="FILE",
        parse=Path,
        group=_REPORTS,
        commands=frozenset({RUN, REPLAY}),
        recorded=False,
    )
    record: Path | None = _option(
        help="record every exchange, scrubbed, as cassettes in DIR (see cassettes/)",
        metavar="DIR",
        parse=Path,
        group=_REPORTS,
        commands=frozenset({RUN}),
    )
    no_doctor: bool = _option(
        False,
        help="skip the setup checks of `spt-conformance doctor` before the run (reachability is still checked)",
        group=_JUDGEMENT,
        recorded=False,
    )
    timeout: float = 30.0  # seconds per request; not a flag: a slower answer is a broken server

    @property
    def wait_limit(self) -> float:
        """`max_wait`, or its default when unset (a shorter one under --quick)."""
        value: float | None = resolved(self).max_wait
        assert value is not None, "max_wait has a default"
        return value


def declared() -> Iterator[tuple[dataclasses.Field[Any], Flag]]:
    """Every option a user can set, with its flag, in declaration order."""
    for f in dataclasses.fields(RunOptions):
        flag = f.metadata.get("flag")
        if isinstance(flag, Flag):
            yield f, flag


def _cli_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _pytest_name(name: str, flag: Flag) -> str | None:
    return flag.pytest if flag.pytest != "" else "--spt-" + name.replace("_", "-")


def _argument(f: dataclasses.Field[Any], flag: Flag) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"help": flag.help_text(), "dest": f.name}
    if f.type in (bool, "bool"):
        return {**kwargs, "action": "store_true", "default": False}
    if flag.repeat:
        kwargs.update(action="append", default=[])
    if flag.parse is not None:
        kwargs["type"] = flag.parse
    if flag.choices is not None:
        kwargs.update(choices=list(flag.choices), default=f.default)
    if flag.metavar is not None:
        kwargs["metavar"] = flag.metavar
    return kwargs


def add_cli_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the options `command` offers, in their groups."""
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for f, flag in declared():
        if command in flag.commands:
            names = [n for n in (flag.short, _cli_name(f.name)) if n]
            groups[flag.group].add_argument(*names, **_argument(f, flag))


def add_pytest_options(group: Any) -> None:
    """Add `--spt-<name>` for every option the plugin reads (all but those pytest already has)."""
    for f, flag in declared():
        name = _pytest_name(f.name, flag)
        if name is not None:
            group.addoption(name, **_argument(f, flag))


def _value(flag: Flag, raw: Any) -> Any:
    if flag.repeat:
        return tuple(raw or ())
    return raw


def from_namespace(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """The options an argparse namespace holds, as keyword arguments of `RunOptions` (or of a
    subclass, with `extra` fields)."""
    values = {f.name: _value(flag, getattr(args, f.name)) for f, flag in declared() if hasattr(args, f.name)}
    return {**values, **extra}


def from_pytest(config: Any) -> RunOptions:
    """The options of a pytest session, resolved."""
    values: dict[str, Any] = {}
    for f, flag in declared():
        name = _pytest_name(f.name, flag)
        if name is None:
            continue
        values[f.name] = _value(flag, config.getoption(name))
    return resolved(RunOptions(**values))


def resolved(options: RunOptions) -> RunOptions:
    """The options with every unset field given its default (its `--quick` one under --quick)."""
    changes = {}
    for f, flag in declared():
        if getattr(options, f.name) is None and flag.default is not _UNSET:
            quick = options.quick and flag.quick is not _UNSET
            changes[f.name] = flag.quick if quick else flag.default
    return dataclasses.replace(options, **changes) if changes else options


def pytest_arguments(options: RunOptions) -> list[str]:
    """The pytest command-line arguments that carry `options` to the plugin."""
    args: list[str] = []
    for f, flag in declared():
        value = getattr(options, f.name)
        name = _pytest_name(f.name, flag)
        if name is None:
            name = flag.short or _cli_name(f.name)
            if f.name == "workers" and value in (None, "0"):
                continue
        if value is None or value is False:
            continue
        if value is True:
            args.append(name)
        elif flag.repeat:
            for item in value:
                args += [name, str(item)]
        else:
            args += [name, str(value)]
    return args


def recorded(options: RunOptions) -> dict[str, Any]:
    """The options as kept in a report or a recording: JSON values, without the user's paths."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        flag = f.metadata.get("flag")
        if isinstance(flag, Flag) and not flag.recorded:
            continue
        value = getattr(options, f.name)
        out[f.name] = str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value
    return out


def problems(options: RunOptions, catalogue: Catalogue, *, prefix: str = "--") -> list[str]:
    """What makes these options unusable before the run starts; empty when they are fine."""
    found: list[str] = []
    unknown = [p for p in (*options.only, *options.skip) if not catalogue.matching(p)]
    if unknown:
        found.append(
            f"{prefix}only/{prefix}skip {', '.join(unknown)} matches no requirement ID or area; "
            "see `spt-conformance spec requirements`"
        )
    elif options.only and not catalogue.select(options.only, options.skip):
        found.append(f"{prefix}only and {prefix}skip together leave no requirement to check")
    for name in ("json", "junit", "html"):
        problem = output_path_problem(prefix + name, getattr(options, name))
        if problem:
            found.append(problem)
    return found
