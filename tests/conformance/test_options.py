"""Run options: one declaration, the same set and defaults on the command line and in pytest."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from _pytest.config.argparsing import Parser

from conformance import cli, plugin
from conformance.options import (
    CERTIFY,
    DEFAULT_MAX_WAIT,
    QUICK_MAX_WAIT,
    REPLAY,
    RUN,
    RunOptions,
    declared,
    from_pytest,
    pytest_arguments,
    recorded,
    resolved,
)
from conformance.spec import load_spec

# What `run` takes besides the run options: the description of the target (the plugin reads that
# from --spt-target) and --help.
TARGET_FLAGS = {
    "--target",
    "--base-url",
    "--agent-key",
    "--seller-key",
    "--seller-profile",
    "--other-seller-key",
    "--other-seller-profile",
    "--payment-method",
    "--declined-payment-method",
    "--capability",
    "--stripe-version",
    "--help",
}


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen: argparse.ArgumentParser = commands.choices[name]
    return chosen


def _cli_options(name: str) -> dict[str, argparse.Action]:
    return {
        flag: action
        for action in _subcommand(name)._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag not in TARGET_FLAGS
    }


def _plugin_options() -> dict[str, argparse.Action]:
    parser = Parser(_ispytest=True)  # the plugin's options, as pytest would see them
    plugin.pytest_addoption(parser)
    group = parser.getgroup("spt-conformance")
    return {name: option._action for option in group.options for name in option.names()}


def test_cli_run_and_the_plugin_accept_the_same_options_with_the_same_defaults() -> None:
    cli_options = _cli_options("run")
    plugin_options = _plugin_options()
    internal = {"--spt-target", "--spt-reference", "--spt-replay"}  # set by `run` itself, not by a user
    plugin_names = {name.removeprefix("--spt-") for name in plugin_options if name not in internal}
    # --workers is pytest-xdist's own -n inside pytest.
    assert {name.removeprefix("--") for name in cli_options} == plugin_names | {"workers"}
    for flag, action in cli_options.items():
        if flag == "--workers":
            continue
        twin = plugin_options["--spt-" + flag.removeprefix("--")]
        assert type(twin) is type(action), flag
        for attribute in ("dest", "default", "type", "choices", "nargs", "const", "metavar", "help"):
            assert getattr(twin, attribute) == getattr(action, attribute), (flag, attribute)


@pytest.mark.parametrize("command", [RUN, CERTIFY, REPLAY])
def test_every_command_offers_exactly_the_options_declared_for_it(command: str) -> None:
    offered = set(_cli_options(command)) - {"--out", "--sign", "--allow-spec-drift"}  # the bundle's, not the run's
    expected = {"--" + f.name.replace("_", "-") for f, flag in declared() if command in flag.commands}
    assert offered == expected


def test_options_are_declared_once_in_one_dataclass() -> None:
    # The CLI, the plugin and the runner read RunOptions; nobody keeps a copy of its fields.
    names = [f.name for f, _ in declared()]
    assert len(names) == len(set(names))
    assert {"quick", "max_wait", "only"} <= set(names)


class _Config:
    """The part of pytest.Config that `from_pytest` reads."""

    def __init__(self, **given: Any) -> None:
        parser = Parser(_ispytest=True)  # the plugin's options, as pytest would see them
        plugin.pytest_addoption(parser)
        self.values = {
            name: option.attrs().get("default")
            for option in parser.getgroup("spt-conformance").options
            for name in option.names()
        }
        self.values.update({"--spt-" + k.replace("_", "-"): v for k, v in given.items()})

    def getoption(self, name: str) -> Any:
        return self.values[name]


def test_quick_through_the_plugin_waits_as_briefly_as_quick_through_the_cli() -> None:
    # `--spt-quick` used to keep the 30 s wait that `run --quick` cut to 5 s.
    assert from_pytest(_Config(quick=True)).wait_limit == QUICK_MAX_WAIT
    assert from_pytest(_Config()).wait_limit == DEFAULT_MAX_WAIT
    assert from_pytest(_Config(quick=True, max_wait=30.0)).wait_limit == 30.0  # an explicit wait wins


def test_cli_options_reach_pytest_unchanged() -> None:
    parsed = cli._parser().parse_args(
        ["run", "--only", "USE", "--only", "REV", "--strict", "--quick", "-n", "2", "--json", "r.json"]
    )
    options = resolved(RunOptions(**{k: v for k, v in vars(parsed).items() if k in {f.name for f, _ in declared()}}))
    args = pytest_arguments(options)
    assert args == [
        "--spt-only",
        "USE",
        "--spt-only",
        "REV",
        "--spt-quick",
        "-n",
        "2",
        "--spt-strict",
        "--spt-max-wait",
        str(QUICK_MAX_WAIT),
        "--spt-events",
        "auto",
        "--spt-json",
        "r.json",
    ]


def test_recorded_options_leave_out_the_users_report_paths() -> None:
    kept = recorded(RunOptions(json=Path("/home/someone/r.json"), only=("USE",), seed=3))
    assert not {"json", "junit", "html", "expected_failures"} & set(kept)
    assert kept["only"] == ["USE"]
    assert kept["seed"] == 3


def test_unknown_selection_is_refused_the_same_way_on_both_paths() -> None:
    from conformance.options import problems

    catalogue = load_spec().catalogue
    assert problems(RunOptions(only=("NOPE",)), catalogue)[0].startswith("--only/--skip NOPE")
    assert problems(RunOptions(only=("NOPE",)), catalogue, prefix="--spt-")[0].startswith("--spt-only/--spt-skip NOPE")
    assert problems(RunOptions(only=("USE",)), catalogue) == []
