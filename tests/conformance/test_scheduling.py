"""Under -n, every test that moves the target's clock or needs its tokens to expire on time runs on one worker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.scheduling import SHARED, SHARED_CLOCK_MODULES, SharedClockScheduling, shares_clock

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
