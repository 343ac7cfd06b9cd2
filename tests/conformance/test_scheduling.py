"""The run's order (tests that expect events first, tests that wait for them last), and under -n, every
test that moves the target's clock or needs its tokens to expire on time on one worker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.scheduling import (
    EXPECTING_MODULES,
    SHARED,
    SHARED_CLOCK_MODULES,
    WAITING_MODULES,
    SharedClockScheduling,
    run_order,
    shares_clock,
)

SUITE = Path(__file__).resolve().parents[2] / "conformance" / "suite"
# What moves the shared clock, or issues a token that must expire on time (or be near now).
_USES_THE_CLOCK = re.compile(
    r"pass_beyond\(|clock\.advance\(|lead_time\(\)|issue_expiring\(|\bREASONS\b|run_lifecycle\(|clock\.now\(\) \+"
)


def test_every_suite_module_that_uses_the_clock_is_listed() -> None:
    using = {p.name for p in SUITE.glob("test_*.py") if _USES_THE_CLOCK.search(p.read_text(encoding="utf-8"))}
    assert using, "the pattern finds nothing: it no longer matches how the suite moves the clock"
    assert using == SHARED_CLOCK_MODULES


@pytest.mark.parametrize(
    ("nodeid", "shared"),
    [
        ("conformance/suite/test_expiry.py::test_expiry_x", True),
        ("conformance/suite/test_lifecycle.py::test_lifecycle_random_sequences_agree_with_model[generated]", True),
        (
            "conformance/suite/test_contract.py::test_contract_operation_conforms_to_openapi"
            "[PostTestHelpersSharedPaymentClockAdvance]",
            True,
        ),
        ("conformance/suite/test_contract.py::test_contract_operation_conforms_to_openapi[GetEvents]", False),
        ("conformance/suite/test_wire.py::test_x[OPTIONS]", False),
    ],
)
def test_shares_clock_by_module_and_by_clock_operation(nodeid: str, shared: bool) -> None:
    assert shares_clock(nodeid) is shared


def test_scheduler_makes_the_clock_tests_one_unit_and_every_other_test_its_own() -> None:
    scheduler = SharedClockScheduling.__new__(SharedClockScheduling)  # only the scoping is under test
    a = scheduler._split_scope("conformance/suite/test_expiry.py::test_a")
    b = scheduler._split_scope("conformance/suite/test_lifecycle.py::test_b")
    assert a == b == SHARED
    assert scheduler._split_scope("conformance/suite/test_wire.py::test_c") == "conformance/suite/test_wire.py::test_c"


def modules_matching(pattern: str) -> set[str]:
    return {p.name for p in SUITE.glob("test_*.py") if re.search(pattern, p.read_text(encoding="utf-8"))}


def test_every_suite_module_that_blocks_on_an_event_runs_last() -> None:
    assert modules_matching(r"wait_for\(|run_lifecycle\(|list_until\(") == set(WAITING_MODULES)


def test_every_suite_module_that_only_expects_events_runs_first() -> None:
    assert modules_matching(r"expect_arrival\(") == EXPECTING_MODULES
    assert not EXPECTING_MODULES & set(WAITING_MODULES)


def test_run_order_moves_whole_modules_and_keeps_the_rest_as_collected() -> None:
    collected = [
        "suite/test_authentication.py::a",
        "suite/test_events_content.py::b",
        "suite/test_events_content.py::a",
        "suite/test_lifecycle.py::a",
        "suite/test_concurrency.py::z",
        "suite/test_wire.py::a",
        "suite/test_isolation.py::a",
        "suite/test_bad_input.py::a",
    ]
    assert run_order(collected, str) == [
        "suite/test_concurrency.py::z",
        "suite/test_isolation.py::a",
        "suite/test_authentication.py::a",
        "suite/test_wire.py::a",
        "suite/test_bad_input.py::a",
        "suite/test_lifecycle.py::a",
        "suite/test_events_content.py::b",
        "suite/test_events_content.py::a",
    ]
