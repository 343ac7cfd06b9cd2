"""Registers the recorder or the replayer a run asks for (`--spt-record`, `--spt-replay`) with pytest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.session import RunState

__all__ = ["configure_cassettes", "stop_cassettes"]


def configure_cassettes(config: pytest.Config, state: RunState) -> None:
    from conformance.cassettes.session import CassetteError, read_manifest, set_cassette_session

    record, replay = config.getoption("--spt-record"), config.getoption("--spt-replay")
    if not record and not replay:
        return
    if record and replay:
        raise pytest.UsageError("--spt-record and --spt-replay exclude each other")
    if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "a recording is made and replayed in one process (session-wide objects are made in test "
            "order); drop -n / --workers"
        )
    session: Any
    if record:
        from conformance.cassettes.record import Recorder, prepare_directory

        problem = prepare_directory(Path(record))
        if problem:
            raise pytest.UsageError(problem)
        session = Recorder(Path(record), state)
    else:
        from conformance.cassettes.replay import Replayer

        try:
            manifest = read_manifest(Path(replay))
        except CassetteError as exc:
            raise pytest.UsageError(str(exc)) from None
        session = Replayer(Path(replay), manifest, state)
    set_cassette_session(config, session)
    config.pluginmanager.register(session, "spt-conformance-cassettes")
    session.start()


def stop_cassettes(config: pytest.Config) -> None:
    from conformance.cassettes.session import cassette_session

    cassettes: Any = cassette_session(config)
    if cassettes is not None:
        cassettes.stop()
