"""Observing a target's events: waiting for what must arrive, and expecting what must not.

Theory of operation. A test asks two kinds of question of events. "Did this arrive?"
(`EventLog.wait_for`) returns the moment it has. "Exactly once" and "nothing about this object"
cannot be answered without waiting for quiet, so the test registers them as expectations
(`expect_count`, `expect_none`, `expect`) and goes on; the run's `EventWatch` judges them all
after one final quiet period and reports each verdict for the test and requirement that made it.

A test that need not read an event says so (`expect_arrival`): the run awaits all of those at
its end, each up to its patience from when asked, so a slow server's delay is paid once per run.
A missing event is waited for once per run: after a wait for an event type to a role has run
its full `--spt-max-wait` in vain, later waits for it last only a quiet period, until one
arrives again; and if no awaited event has arrived at all in the run, later waits take one look.
A server that delivers nothing at all is found out one silence window after the first event the
run expected, not after the first wait's own: a wait ends there when no delivery at all has
reached the receiver since (`silence_due`; pushed events only, where the receiver hears every
delivery). The window is a third of `--spt-max-wait`, at least `FIRST_DELIVERY_WAIT` and at most
`--spt-max-wait`: a target's first delivery of all comes within seconds or not at all, and a run
against a silent server would otherwise cost a whole `--spt-max-wait` more than a correct one.
The tests that only expect events run first (`conformance.scheduling`), so that deadline falls
while the rest of the run goes on.

The watch hands each test's log a source (`conformance.event_sources`: pushed or pulled) and a
timeline (`conformance.waiting`): a replay hands a virtual one, so nothing here knows whether it
is live or replayed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

import pytest

from conformance.client import Journal
from conformance.endpoints import WebhookEndpoints
from conformance.event_expectations import MISSING_EVENT_TIP, Expecting
from conformance.event_sources import EventSource, ObservedEvent, PullSource, PushSource, Via
from conformance.expectations import Arrival, Expectation, Expectations
from conformance.session import RunState
from conformance.violation import LEDGER, Violation
from conformance.waiting import EVENTS, Timeline, waiting

__all__ = ["FIRST_DELIVERY_WAIT", "EventLog", "EventWatch", "silence_window"]

# Seconds a target may take to make its first delivery of the run (unless --max-wait is shorter).
# Stripe documents no delivery latency; a realistic webhook comes within a second or two, and a
# tunnel to Stripe test mode within a few more.
FIRST_DELIVERY_WAIT = 10.0


def silence_window(max_wait: float) -> float:
    """How long after the first event due a run that has received no delivery at all takes the
    target to deliver none: a third of --max-wait, at least FIRST_DELIVERY_WAIT, at most --max-wait."""
    return min(max_wait, max(FIRST_DELIVERY_WAIT, max_wait / 3))


Report = Callable[[Expectation, "Violation | None"], None]


class EventWatch:
    """The run's events: how they are read, the deferred expectations, and the run's patience."""

    def __init__(
        self,
        run: RunState,
        *,
        mode: Via | None,
        timeline: Timeline,
        endpoints: WebhookEndpoints | None = None,
        reason: str = "",
    ) -> None:
        if mode == "push" and endpoints is None:
            raise ValueError("push needs the session's webhook endpoints")
        self.run = run
        self.mode = mode
        self.reason = reason
        self.timeline = timeline
        self.endpoints = endpoints
        self.max_wait = run.options.wait_limit
        self.silence = silence_window(self.max_wait)
        embedded = run.target.embedded
        self.quiet = (0.2 if mode == "push" else 0.5) if embedded else (3.0 if mode == "push" else 5.0)
        if run.options.quick:
            self.quiet /= 2  # a smoke run trades some certainty about late duplicates for speed
        if timeline.virtual and mode == "push":
            self.quiet = 0.0  # a replay's receiver holds every delivery the recording got
        self.poll_interval = 0.05 if embedded else 1.0
        self._floor = min(self.quiet, 0.5 if run.options.quick else 1.0)  # the shortest final quiet
        self._slowest: float | None = None  # the longest a wait took to see its event arrive
        self.expectations = Expectations()
        self._starved: dict[tuple[str, str], float] = {}  # (role, event type) a full wait found missing: since when
        self._arrivals: list[Arrival] = []  # awaited at the end of the run
        self._silent = False  # a full wait ran out and the run has never received any event at all
        self._fed = False  # some event has arrived in this run
        self._first_due: float | None = None  # when the run first expected an event (push)
        self._heard = False  # some delivery reached the receiver (push)
        self._whole: EventSource | None = None  # every event of the run, for the final judgement
        self._by_object: dict[str, tuple[int, dict[str | None, list[ObservedEvent]]]] = {}  # role -> (events, index)
        self._lock = threading.Lock()

    def source(self) -> EventSource | None:
        """A new reader of the events (None when the target offers no way to observe them)."""
        if self.mode == "push":
            assert self.endpoints is not None
            return PushSource(self.endpoints, self.timeline)
        if self.mode == "pull":
            return PullSource(self.timeline, poll_interval=self.poll_interval)
        return None

    def log(self, journal: Journal, test: str = "") -> EventLog:
        """The `events` fixture of one test, started."""
        return EventLog(self, journal, test=test).start()

    # ------------------------------------------------------------------ patience
    def patience(self, role: str, event_type: str) -> float:
        """How long to wait for an event: the full --max-wait, unless the run has learnt that it
        does not come. A server that has sent nothing at all gets one look; one that has not sent
        this kind of event, a quiet period."""
        with self._lock:
            if self._silent:
                return 0.0
            starved = (role, event_type) in self._starved
        return min(self.max_wait, max(self.quiet, 1.0)) if starved else self.max_wait

    def expected(self) -> None:
        """An event is due from now on (a test awaits one, or waits for it)."""
        with self._lock:
            if self._first_due is None:
                self._first_due = self.timeline.now()

    def silence_due(self) -> float | None:
        """When a server that has delivered nothing at all is taken to deliver nothing: one silence
        window after the first event due. None once any delivery has come, or when events are
        pulled (a page of the list is a request, and its absence says less)."""
        if self.mode != "push" or self._heard:
            return None
        assert self.endpoints is not None
        if self.endpoints.receiver.deliveries():
            self._heard = True
            return None
        with self._lock:
            return None if self._first_due is None else self._first_due + self.silence

    def starved(self, role: str, event_type: str, *, fed: bool, heard: bool) -> None:
        """Learn from a full wait: `fed` if what it waited for came, `heard` if any event reached
        any role meanwhile (a server that misroutes one event type is not a silent server)."""
        with self._lock:
            self._fed = self._fed or fed or heard
            if fed:
                self._starved.pop((role, event_type), None)
            else:
                self._starved.setdefault((role, event_type), self.timeline.now())
            self._silent = not self._fed

    # ------------------------------------------------------------------ the end of the run
    def about(self, role: str, object_id: str) -> list[ObservedEvent]:
        """Every event about `object_id` that reached `role` during the run, first seen first."""
        events = self._everything().collect(role)
        with self._lock:
            # Indexed once per new event, not scanned once per question: the final judgement asks
            # about every object of the run.
            count, index = self._by_object.get(role, (0, {}))
            if count != len(events):
                index = {}
                for event in events:
                    index.setdefault(event.object_id, []).append(event)
                self._by_object[role] = (len(events), index)
        return sorted(index.get(object_id, ()), key=lambda e: e.observed_at)

    def _everything(self) -> EventSource:
        """The reader of every event of the run (made at the end, reading from the start)."""
        with self._lock:
            if self._whole is None:
                self._whole = self.source()
                assert self._whole is not None
                clients = {a.role: self.run.client(a, Journal()) for a in self.run.target.accounts}
                self._whole.start(clients, from_start=True)
            return self._whole

    def await_arrival(self, arrival: Arrival) -> None:
        self.expected()
        with self._lock:
            self._arrivals.append(arrival)

    def close(self, report: Report) -> int:
        """Await the arrivals, let one quiet period pass, judge and `report` each expectation."""
        if not len(self.expectations):
            return 0
        self._await_arrivals()
        self._final_quiet()
        results = self.expectations.judge()
        for expectation, violation in results:
            report(expectation, violation)
        return len(results)

    def _await_arrivals(self) -> None:
        """Wait for each awaited event still missing until it is due; a kind found missing cuts
        the wait for the rest of its kind, as for a test's own wait (see `patience`)."""
        with self._lock:
            pending, self._arrivals = self._arrivals, []
        while pending:
            now = self.timeline.now()
            # One read per role and round (pulled, it is a page of GET /v1/events), not per arrival.
            seen = {
                a.role: Counter((e.type, e.object_id) for e in self._everything().collect(a.role))
                for a in self.run.target.accounts
            }
            missing = []
            for arrival in pending:
                if seen[arrival.role][(arrival.event_type, arrival.object_id)] >= arrival.count:
                    self.starved(arrival.role, arrival.event_type, fed=True, heard=True)
                elif now >= self._due(arrival, now):
                    self.starved(arrival.role, arrival.event_type, fed=False, heard=any(seen.values()))
                else:
                    missing.append(arrival)
            pending = missing
            if not pending or self.timeline.virtual:
                return  # a replay holds every event the recording got: nothing more will come
            left = min(self._due(a, now) for a in pending) - now
            first = pending[0]
            more = f" and {len(pending) - 1} more" if len(pending) > 1 else ""
            with waiting(EVENTS, f"waiting up to {left:.0f} s for {first.event_type} to the {first.role}{more}"):
                self._everything().pause(min(left, 0.5))

    def _due(self, arrival: Arrival, now: float) -> float:
        """Its own due time, or sooner once its kind (or every event) is known not to come, or
        once the server has delivered nothing at all for a silence window."""
        silence = self.silence_due()
        due = arrival.due if silence is None else min(arrival.due, silence)
        with self._lock:
            if self._silent:
                return now
            since = self._starved.get((arrival.role, arrival.event_type))
        return due if since is None else min(due, since + max(self.quiet, 1.0))

    def took(self, seconds: float) -> None:  # how long an awaited event took, from the wait's start
        with self._lock:
            self._slowest = max(self._slowest or 0.0, seconds)

    def final_quiet(self) -> float:
        """The quiet period that ends the run. Late duplicates show on the timescale of the
        target's deliveries: three times the slowest awaited one, within [floor, quiet]; the full
        quiet period when no delivery was timed (pulled events show no arrival time); the floor
        when the server was found silent."""
        with self._lock:
            slowest, silent = self._slowest, self._silent
        if silent:
            return self._floor  # nothing came in a whole --spt-max-wait: a late burst, not a late duplicate
        if self.mode != "push" or slowest is None:
            return self.quiet
        return min(self.quiet, max(self._floor, 3 * slowest))

    def _final_quiet(self) -> None:
        """Wait until nothing new has arrived for a quiet period (at most --spt-max-wait)."""
        count, quiet = len(self.expectations), self.final_quiet()
        what = f"waiting {quiet:g} s of quiet for late or duplicate events ({count} expectations)"
        with waiting(EVENTS, what):
            if self.mode != "push" or self.timeline.virtual:
                self.timeline.sleep(quiet)
                return
            assert self.endpoints is not None
            receiver = self.endpoints.receiver
            deadline = self.timeline.now() + max(self.max_wait, quiet)
            while self.timeline.now() < deadline:
                if not receiver.changes(min(quiet, deadline - self.timeline.now())):
                    return


class EventLog(Expecting):
    """The `events` fixture: what the test's accounts received, and what it expects of the rest."""

    def __init__(self, watch: EventWatch, journal: Journal, *, test: str = "") -> None:
        self.watch = watch
        self.journal = journal
        self.test = test
        self.source = watch.source()
        self._clients = {a.role: watch.run.client(a, journal) for a in watch.run.target.accounts}
        self._reported: set[tuple[str, str, int]] = set()
        self._awaited: dict[tuple[str, str, str], Arrival] = {}  # (role, object, type): what this test awaits
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.source is not None

    @property
    def mode(self) -> Via | None:
        return self.watch.mode

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._clients)

    def start(self) -> EventLog:
        """Before the test acts: make the endpoints (push) or note where the lists end (pull)."""
        if self.source is not None:
            self.source.start(self._clients)
        return self

    # ------------------------------------------------------------------ waiting
    def wait_for(
        self,
        role: str,
        event_type: str,
        object_id: str,
        *,
        count: int = 1,
        timeout: float | None = None,
        requirement: str | None = None,
    ) -> list[ObservedEvent]:
        """Wait until `count` events of `event_type` about `object_id` reached `role`.

        Returns them (all that arrived, which may be more) the moment they have. If fewer came
        within `timeout` (default: the run's patience for this event): raise a Violation of
        `requirement`, or return what did.
        """
        source = self._require_source()
        timeline = self.watch.timeline
        limit = self.watch.patience(role, event_type) if timeout is None else timeout
        if timeout is None:
            self.watch.expected()
        started = timeline.now()
        deadline = started + limit
        silenced = False  # the wait ended at the run's silence deadline, not its own
        what = f"waiting up to {limit:g} s for {event_type} to {role}"
        with waiting(EVENTS, what):
            while True:
                found = self._matching(source, role, object_id, event_type)
                silence = self.watch.silence_due() if timeout is None else None
                due = deadline if silence is None else min(silence, deadline)
                silenced = due < deadline
                remaining = due - timeline.now()
                if len(found) >= count or remaining <= 0:
                    break
                source.pause(remaining)
        if timeout is None:
            heard = any(source.collect(other) for other in self.roles)
            self.watch.starved(role, event_type, fed=len(found) >= count, heard=heard)
        if len(found) >= count and not timeline.virtual:
            self.watch.took(timeline.now() - started)
        if requirement is not None and len(found) >= count:
            LEDGER.hold(requirement)
        if len(found) < count and requirement is not None:
            shortened = limit < self.watch.max_wait and timeout is None and not silenced
            waited = min(limit, max(0.0, timeline.now() - started))
            raise Violation(
                requirement,
                received=f"{len(found)} {event_type} event(s) about {object_id} reached the {role} "
                f"within {waited:.3g} s ({source.describe(role)})"
                + ("; an earlier wait for this event type ran its full time and none came" if shortened else "")
                + (
                    f"; no delivery at all has reached any endpoint in the {self.watch.silence:g} s since the "
                    "run first expected an event (for a target whose first delivery takes longer, raise "
                    f"--max-wait: the run waits a third of it, at least {FIRST_DELIVERY_WAIT:g} s)"
                    if silenced
                    else ""
                ),
                expected=f"at least {count}",
                tip=MISSING_EVENT_TIP,
            )
        return found

    def observed(self, role: str) -> list[ObservedEvent]:
        """Everything seen so far for `role`, without waiting."""
        source = self._require_source()
        return source.collect(role)

    def about(self, role: str, object_id: str) -> list[ObservedEvent]:
        """Every event about `object_id` that reached `role` in the run; for a judgement."""
        return self.watch.about(role, object_id)

    # ------------------------------------------------------------------ reading
    def _require_source(self) -> EventSource:
        if self.source is None:
            pytest.skip(self.watch.reason or "the target offers no event source")
        return self.source

    def _matching(self, source: EventSource, role: str, object_id: str, event_type: str) -> list[ObservedEvent]:
        found = [e for e in source.collect(role, event_type) if e.object_id == object_id]
        self._report_findings(found)
        return sorted(found, key=lambda e: e.observed_at)

    def _report_findings(self, events: Iterable[ObservedEvent]) -> None:
        """What the body checks found in deliveries this test looked at goes into its journal."""
        for observed in events:
            delivery = observed.delivery
            if delivery is None or not delivery.findings:
                continue
            key = (delivery.endpoint, observed.id, delivery.attempt)
            with self._lock:
                if key in self._reported:
                    continue
                self._reported.add(key)
            self.journal.add_findings(delivery.findings)
