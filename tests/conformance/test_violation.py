"""find_exception finds what a test raised however Hypothesis and pytest wrapped it."""

from __future__ import annotations

from conformance.violation import Violation, find_exception


def violation() -> Violation:
    return Violation("SPT-ISS-001", received="400", expected="200")


def raised_from(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("wrapper") from cause
    except RuntimeError as wrapper:
        return wrapper


def test_finds_the_exception_itself_in_a_group_and_behind_a_cause() -> None:
    found = violation()
    assert find_exception(found, Violation) is found
    assert find_exception(ExceptionGroup("two", [ValueError("x"), found]), Violation) is found
    assert find_exception(raised_from(ExceptionGroup("one", [found])), Violation) is found


def test_finds_nothing_where_there_is_none_and_survives_a_cycle() -> None:
    error = ValueError("a")
    error.__context__ = KeyError("b")
    error.__context__.__context__ = error
    assert find_exception(error, Violation) is None
    assert find_exception(None, Violation) is None
