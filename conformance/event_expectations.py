"""The expectations a test states about events, judged at the end of the run for that test.

The half of the `events` fixture (`conformance.events.EventLog`) that does not wait: "this must
arrive" (`expect_arrival`, awaited with every other arrival at the end of the run), "exactly
this many" (`expect_count`), "none" (`expect_none`) and any judgement of the test's own
(`expect`). Each becomes an `Expectation` of the run's `EventWatch`, judged after its final quiet
period, its verdict reported for the test and the requirement that made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conformance.event_sources import EventSource, ObservedEvent
from conformance.expectations import Arrival, Expectation, Judgement, NotJudged
from conformance.violation import Violation

if TYPE_CHECKING:
    from conformance.events import EventWatch

__all__ = ["MISSING_EVENT_TIP", "Expecting"]

MISSING_EVENT_TIP = (
    "events are matched by data.object.id; check that the event is recorded for this account "
    "and that its data.object is the token"
)


class Expecting:
    """What a test expects of the run's events; mixed into `EventLog`, which gives it the rest."""

    watch: EventWatch
    test: str
    _awaited: dict[tuple[str, str, str], Arrival]  # (role, object, type): what this test awaits

    def _require_source(self) -> EventSource:
        raise NotImplementedError

    def _seen(self, role: str, object_id: str, types: Sequence[str] = ()) -> list[ObservedEvent]:
        """What reached `role` about `object_id` in the whole run (of `types`, if given)."""
        return [e for e in self.watch.about(role, object_id) if not types or e.type in types]

    def expect_arrival(self, role: str, event_type: str, object_id: str, requirement: str, *, count: int = 1) -> None:
        """`count` events of `event_type` about `object_id` must reach `role`. The test goes on at
        once; the run waits for them at its end, up to the patience this wait has now, and judges
        them for this test. For a test that does not read the events: one that does, `wait_for`."""
        self._require_source()
        limit = self.watch.patience(role, event_type)
        arrival = Arrival(role, event_type, object_id, count, self.watch.timeline.now() + limit)
        self._awaited[(role, object_id, event_type)] = arrival
        self.watch.await_arrival(arrival)

        def judge() -> Violation | None:
            got = self._seen(role, object_id, (event_type,))
            if len(got) >= count:
                return None
            return Violation(
                requirement,
                received=f"{len(got)} {event_type} event(s) about {object_id} reached the {role} "
                f"within {limit:g} s of the test's request (or before the run ended)",
                expected=f"at least {count}",
                tip=MISSING_EVENT_TIP,
            )

        self.expect(requirement, judge, about=f"{event_type} about {object_id} to the {role}")

    def expect(self, requirement: str, judge: Judgement, *, about: str = "") -> None:
        """Judge `judge()` (a Violation, or None) after the run's final quiet period, for this test."""
        self._require_source()
        self.watch.expectations.add(Expectation(self.test, requirement, judge, about))

    def expect_count(
        self,
        role: str,
        object_id: str,
        event_type: str,
        count: int,
        requirement: str,
        *,
        what: str = "",
        tip: str = "",
    ) -> None:
        """At the end of the run, exactly `count` events of `event_type` about `object_id` reached `role`."""

        awaited = self._awaited.get((role, object_id, event_type))

        def judge() -> Violation | None:
            got = self._seen(role, object_id, (event_type,))
            if len(got) == count:
                return None
            if awaited is not None and len(got) < awaited.count:
                raise NotJudged  # too few came: the arrival's own verdict says so, once
            return Violation(
                requirement,
                received=f"{len(got)} {event_type} event(s) about {object_id} reached the {role} "
                f"by the end of the run: {[e.id for e in got]}",
                expected=f"exactly {count}" + (f" ({what})" if what else ""),
                tip=tip or "send each event once to each party it concerns; events are matched by data.object.id",
            )

        self.expect(requirement, judge, about=f"{event_type} about {object_id} to the {role}")

    def expect_none(
        self,
        role: str,
        object_id: str,
        requirement: str,
        *,
        types: Sequence[str] = (),
        expected: str = "no event",
        tip: str = "",
    ) -> None:
        """At the end of the run, no event (of `types`, if given) about `object_id` reached `role`."""

        def judge() -> Violation | None:
            got = self._seen(role, object_id, types)
            if not got:
                return None
            return Violation(
                requirement,
                received=f"the {role} received {[e.type for e in got]} about {object_id}",
                expected=expected,
                tip=tip,
            )

        self.expect(requirement, judge, about=f"nothing about {object_id} to the {role}")
