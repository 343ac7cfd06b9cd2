"""The token lifecycle, generated: random sequences of moves checked against the model.

The requirements this test proves depend on the target: the moves it can drive (the clock, the
test helpers, a second seller, a declining card) decide which rules exist, so the `requirement`
marker is computed when the test is collected, from the same plan the machine is built from.
"""

from __future__ import annotations

import pytest

from conformance.client import Journal
from conformance.lifecycle.harness import run_lifecycle
from conformance.lifecycle.plan import plan
from conformance.plugin import run_state
from conformance.scenario import Scenario
from conformance.session import RunState
from conformance.spec import default_spec


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lifecycle_ids" not in metafunc.fixturenames:
        return
    spec = default_spec()
    state = run_state(metafunc.config)
    has = state.target.has if state is not None else (lambda capability: True)
    the_plan = plan(spec.lifecycle, spec.operations, has)
    ids = list(the_plan.requirements())
    if state is not None and state.target.has("event_source"):
        ids += the_plan.event_requirements()
    catalogue = spec.catalogue
    # Only what this target can be asked: a requirement whose needs it lacks is another test's.
    usable = [
        i for i in dict.fromkeys(ids) if i in catalogue and not (state and state.target.missing(catalogue[i].needs))
    ]
    metafunc.parametrize(
        "lifecycle_ids", [pytest.param(tuple(usable), id="generated", marks=pytest.mark.requirement(*usable))]
    )


def test_lifecycle_random_sequences_agree_with_model(
    lifecycle_ids: tuple[str, ...], spt_run: RunState, spt: Scenario, journal: Journal, request: pytest.FixtureRequest
) -> None:
    spec = spt_run.spec
    events = request.getfixturevalue("events") if spt_run.target.has("event_source") else None
    summary = run_lifecycle(
        spt,
        lambda: journal.exchanges,
        lifecycle=spec.lifecycle,
        operations=spec.operations,
        seed=spt_run.options.seed,
        max_examples=spt_run.options.max_examples,
        quick=spt_run.options.quick,
        events=events,
    )
    print(summary.describe())
