"""Reports: what the JSON holds, JUnit that parses with one testcase per requirement, an HTML page
that needs nothing else and escapes everything, and no secret or card number in any format."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET  # parses only XML these tests produced
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from conformance.catalog import Catalogue, Level, Requirement
from conformance.expected import EntryStatus, ExpectedFailure, ExpectedOutcome
from conformance.reports.html import render_html
from conformance.reports.junit import render_junit, write_junit
from conformance.reports.model import RunCounts, RunReport, build_report, output_path_problem, write_json
from conformance.reports.text import render_summary
from conformance.target import target_from_mapping
from conformance.verdicts import STOPPED_ON_ERROR, Evidence, Outcome, RequirementResult, Verdict

AGENT_KEY = "sk_test_agentSecret000000000001"
SELLER_KEY = "sk_test_sellerSecret00000000001"
LEARNED = "learnedSecretValue42"  # a secret the checks learned that has no recognisable shape
WHSEC = "whsec_abcdefghijklmnop0123"
CARD = "4242 4242 4242 4242"
HOSTILE = "<script>alert('x')</script>"

MUST = Requirement("SPT-USE-005", Level.MUST, "A payment over the headroom is refused & nothing changes.", "seed")
SHOULD = Requirement("SPT-EVT-010", Level.SHOULD, "The seller gets a used event.", "seed")
SKIP = Requirement("SPT-CLK-001", Level.MUST, "The clock advances.", "decision:D-31", frozenset({"clock"}))
XFAIL = Requirement("SPT-USE-013", Level.MAY, "Partial captures.", "decision:D-01")
PASS = Requirement("SPT-ISS-001", Level.MUST, "Issuing answers 200.", "https://docs.stripe.com/api")
STALE = Requirement("SPT-ISS-002", Level.MUST, "A new token is active.", "seed")
CATALOGUE = Catalogue(
    MappingProxyType({"ISS": "Issuance", "USE": "Use", "CLK": "Clock", "EVT": "Events"}),
    (PASS, STALE, MUST, XFAIL, SKIP, SHOULD),
)
MESSAGE = (
    f"Requirement: SPT-USE-005 (MUST): {MUST.statement}\n"
    f"Received:    200 with card {CARD} and key {AGENT_KEY} {HOSTILE}\n"
    "Expected:    a 4xx Stripe error\n"
    f"Tip:         check the headroom; never echo {WHSEC} or {LEARNED}"
)
EXCHANGE = (
    "POST http://127.0.0.1/v1/payment_intents   (as seller)\n"
    f"Authorization: Bearer {SELLER_KEY}\n\namount=1001&cvc=123&number=4242424242424242\n--> 200"
)


def make_report(broken: int = 1, message: str = MESSAGE, **changes: Any) -> RunReport:
    target = target_from_mapping(
        {
            "name": "vendor <sandbox>",
            "base_url": "https://user:password@sandbox.example:8443/api",
            "agent": {"secret_key": AGENT_KEY},
            "seller": {"secret_key": SELLER_KEY, "network_business_profile": "profile_test_1"},
            "capabilities": {"events": True},
        },
        environ={},
    )
    failures = tuple(
        Evidence(MUST.id, f"suite/test_use.py::t{n}", Outcome.BROKEN, message, (EXCHANGE,)) for n in range(broken)
    )
    results = [
        RequirementResult(
            PASS,
            Verdict.PASSED,
            (
                Evidence(PASS.id, "suite/test_iss.py::t", Outcome.HELD),
                Evidence(PASS.id, "check:no_secrets", Outcome.HELD),
                Evidence(PASS.id, "check:no_secrets", Outcome.HELD),
            ),
        ),
        RequirementResult(STALE, Verdict.PASSED, (Evidence(STALE.id, "suite/test_iss.py::t2", Outcome.HELD),)),
        RequirementResult(MUST, Verdict.FAILED, (*failures, Evidence(MUST.id, "suite/test_use.py::ok", Outcome.HELD))),
        RequirementResult(
            XFAIL,
            Verdict.EXPECTED,
            (Evidence(XFAIL.id, "suite/test_use.py::p", Outcome.BROKEN, "Requirement: partial refused"),),
            "expected failure until 2999-01-01: roadmap (otherwise INFO)",
        ),
        RequirementResult(SKIP, Verdict.SKIPPED, (), "the target does not offer clock"),
        RequirementResult(
            SHOULD,
            Verdict.WARNING,
            (Evidence(SHOULD.id, "suite/test_evt.py::t", Outcome.BROKEN, "Requirement: no used event"),),
            "a SHOULD requirement does not hold",
        ),
    ]
    expected = [
        ExpectedOutcome(ExpectedFailure(XFAIL.id, "roadmap", dt.date(2999, 1, 1)), EntryStatus.APPLIED, "applied"),
        ExpectedOutcome(ExpectedFailure(STALE.id, "was broken", dt.date(2999, 1, 1)), EntryStatus.STALE, "now passes"),
    ]
    arguments: dict[str, Any] = {
        "catalogue": CATALOGUE,
        "spec_digest": "ab" * 32,
        "target": target,
        "results": results,
        "expected": expected,
        "options": {"quick": True, "public_url": None},
        "seed": 42,
        "tests": RunCounts(passed=3, failed=2, skipped=1),
        "exchanges": 17,
        "started_at": "2026-06-01T10:00:00+00:00",
        "duration_s": 12.3456,
        "secrets": [LEARNED],
    }
    arguments.update(changes)
    return build_report(**arguments)


def every_format(report: RunReport) -> dict[str, str]:
    return {
        "json": json.dumps(report.to_json()),
        "junit": render_junit(report),
        "html": render_html(report),
        "text": render_summary(report),
    }


def test_reports_hold_no_key_secret_or_card_number_even_from_evidence() -> None:
    for name, text in every_format(make_report()).items():
        for secret in (AGENT_KEY, SELLER_KEY, LEARNED, WHSEC, CARD, "4242424242424242", "cvc=123", "password"):
            assert secret not in text, f"{secret!r} leaked into the {name} report"


def test_json_report_shape_and_content(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(make_report(), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "spt-conformance-report/1"
    assert data["target"] == {
        "name": "vendor <sandbox>",
        "base_url": "https://sandbox.example:8443/api",
        "reference": False,
        "stripe_version": None,
        "capabilities": ["events"],
    }
    assert (data["seed"], data["exchanges"], data["duration_s"]) == (42, 17, 12.346)
    assert data["tests"] == {"passed": 3, "failed": 2, "skipped": 1, "total": 6}
    assert data["summary"]["exit_code"] == 1
    assert data["summary"]["verdicts"] == {
        "PASSED": 2,
        "FAILED": 1,
        "WARNING": 1,
        "EXPECTED": 1,
        "INFO": 0,
        "INCONCLUSIVE": 0,
        "UNVERIFIED": 0,
        "SKIPPED": 1,
    }
    assert (
        data["summary"]["coverage"]["text"]
        == "3 of 4 applicable MUST verified; 1 skipped: the target does not offer clock"
    )
    assert data["summary"]["complete"] is False  # a quick run
    assert list(data["summary"]["areas"]) == ["ISS", "USE", "CLK", "EVT"]  # catalogue order
    assert data["summary"]["areas"]["USE"]["MUST"]["FAILED"] == 1
    assert data["summary"]["areas"]["USE"]["MAY"]["EXPECTED"] == 1
    passed, _, failed = data["requirements"][:3]
    assert passed["checks_held"] == 2
    assert passed["evidence"] == [{"test": "suite/test_iss.py::t", "outcome": "held"}]
    assert failed["id"] == "SPT-USE-005"
    assert failed["level"] == "MUST"
    assert failed["area"] == "USE"
    assert failed["statement"] == MUST.statement
    assert failed["source"] == "seed"
    assert failed["tests"] == ["suite/test_use.py::t0", "suite/test_use.py::ok"]
    broken = failed["evidence"][0]
    assert broken["outcome"] == "broken"
    assert broken["message"].startswith("Requirement: SPT-USE-005")
    assert "POST http://127.0.0.1/v1/payment_intents" in broken["exchanges"][0]
    assert [(e["id"], e["status"]) for e in data["expected_failures"]] == [
        ("SPT-USE-013", "applied"),
        ("SPT-ISS-002", "stale"),
    ]


def test_report_exit_code_fails_on_a_must_or_a_stale_entry_only() -> None:
    report = make_report()
    assert report.exit_code == 1
    stale_only = dataclasses.replace(
        report, requirements=tuple(r for r in report.requirements if r.verdict != "FAILED")
    )
    assert stale_only.exit_code == 1
    clean = dataclasses.replace(
        stale_only, expected_failures=tuple(e for e in report.expected_failures if e.status != "stale")
    )
    assert clean.exit_code == 0  # a WARNING, an EXPECTED and a SKIPPED remain: none fails a run


def test_report_keeps_every_failure_and_the_exchanges_of_twenty() -> None:
    report = make_report(broken=25)
    entry = report.with_verdict(Verdict.FAILED)[0]
    assert (len(entry.failures), entry.omitted_failures) == (25, 5)
    assert [bool(f.exchanges) for f in entry.failures] == [True] * 20 + [False] * 5
    assert "… and 22 more failure(s) of SPT-USE-005: see the JSON or HTML report" in render_summary(report)
    data = report.to_json()["requirements"][2]
    assert sum(1 for e in data["evidence"] if e["outcome"] == "broken") == 25  # what the terminal promised
    page = render_html(report)
    assert all(f"suite/test_use.py::t{n}</code>" in page for n in range(25))


def junit_root(report: RunReport) -> ET.Element:
    return ET.fromstring(render_junit(report))  # noqa: S314 - our own output


def test_junit_has_one_testcase_per_requirement_named_by_id_and_statement(tmp_path: Path) -> None:
    report = make_report()
    write_junit(report, tmp_path / "r.xml")
    root = ET.parse(tmp_path / "r.xml").getroot()  # noqa: S314 - our own output
    cases = root.findall("./testsuite/testcase")
    by_level = sorted(report.requirements, key=lambda r: ["MUST", "SHOULD", "MAY"].index(r.level))
    assert [(c.get("classname"), c.get("name")) for c in cases] == [(r.area, f"{r.id} {r.statement}") for r in by_level]
    counts = {
        s.get("name"): (s.get("tests"), s.get("failures"), s.get("skipped"), s.get("errors"))
        for s in root.findall("testsuite")
    }
    assert counts == {
        "spt-conformance MUST: vendor <sandbox>": ("4", "1", "1", "0"),
        "spt-conformance SHOULD: vendor <sandbox>": ("1", "1", "0", "0"),  # the WARNING, visible
        "spt-conformance MAY: vendor <sandbox>": ("1", "0", "1", "0"),
    }
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("6", "2", "2")


def test_junit_verdicts_map_to_failure_skipped_and_system_out() -> None:
    cases = {c.get("name", "").split()[0]: c for c in junit_root(make_report()).iter("testcase")}
    failure = cases["SPT-USE-005"].find("failure")
    assert failure is not None
    assert failure.text is not None
    for part in ("Requirement: SPT-USE-005", "Received:", "Expected:", "Tip:", "--- exchange 1 ---"):
        assert part in failure.text
    skipped = cases["SPT-CLK-001"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "the target does not offer clock"
    expected = cases["SPT-USE-013"].find("skipped")
    assert expected is not None
    assert expected.get("type") == "EXPECTED"
    warning = cases["SPT-EVT-010"].find("failure")
    assert warning is not None
    assert warning.get("type") == "WARNING"
    assert warning.get("message") == "Requirement: no used event"  # no Received line: the first line
    assert cases["SPT-ISS-001"].find("failure") is None
    assert cases["SPT-ISS-001"].find("skipped") is None


def test_junit_survives_control_characters_a_server_sent() -> None:
    report = make_report()
    entry = report.requirements[2]
    control = dataclasses.replace(entry.evidence[0], message="Received: \x00\x1b[31mred\x07", exchanges=())
    broken = dataclasses.replace(report, requirements=(dataclasses.replace(entry, evidence=(control,)),))
    assert "Received: \ufffd\ufffd[31mred\ufffd" in ET.tostring(junit_root(broken), encoding="unicode")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_one_self_contained_page() -> None:
    page = render_html(make_report())
    parser = _Tags()
    parser.feed(page)
    names = [tag for tag, _ in parser.tags]
    assert names.count("script") == 1
    assert names.count("style") == 1
    assert not {"link", "img", "iframe", "object", "embed"} & set(names)
    assert all("src" not in attrs for _, attrs in parser.tags)
    assert "@import" not in page
    assert "url(" not in page


def test_html_escapes_what_the_server_sent() -> None:
    page = render_html(make_report())
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "vendor &lt;sandbox&gt;" in page
    assert "refused &amp; nothing changes" in page


def test_html_has_the_matrix_the_table_and_each_failure_with_evidence() -> None:
    page = render_html(make_report())
    assert '<td class="n FAILED" data-filter-verdict="FAILED" data-filter-area="USE">1</td>' in page
    assert page.count("<tr data-verdict=") == 6
    assert '<section class="failure FAILED" id="SPT-USE-005">' in page
    assert "exchange 1</summary><pre>POST http://127.0.0.1/v1/payment_intents" in page
    assert '<section class="failure WARNING" id="SPT-EVT-010">' in page


def test_summary_shows_area_by_level_then_each_failure_in_four_parts() -> None:
    text = render_summary(make_report())
    lines = text.splitlines()
    assert lines[0] == "SPT conformance of vendor <sandbox> at https://sandbox.example:8443/api"
    assert "6 tests (3 passed, 2 failed, 1 skipped), 17 HTTP exchanges, 12.3 s, seed 42" in lines[1]
    assert "USE   MUST         ·      1       ·        ·    ·            ·          ·       ·" in lines
    assert "total              2      1       1        1    0            0          0       1" in lines
    assert "FAILED  SPT-USE-005 (MUST): A payment over the headroom is refused & nothing changes." in lines
    assert "  found by suite/test_use.py::t0" in lines
    assert "  stale    SPT-ISS-002 (until 2999-01-01): now passes" in lines
    assert lines[-1] == (
        "Result: FAILED: 1 requirement(s) failed and 1 expected failure(s) now pass (stale entries) (exit 1); "
        "3 of 4 applicable MUST verified; 1 skipped: the target does not offer clock; "
        "selection: all 6 requirements, quick profile"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, None),
        ("{tmp}/r.json", None),
        ("{tmp}/missing/r.json", "the directory {tmp}/missing does not exist"),
        ("{tmp}", "is a directory"),
    ],
)
def test_output_path_problem_is_found_before_the_run(tmp_path: Path, value: str | None, problem: str | None) -> None:
    found = output_path_problem("--json", value.format(tmp=tmp_path) if value else None)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem.format(tmp=tmp_path) in found


def test_summary_cuts_a_huge_evidence_line_but_the_reports_keep_it() -> None:
    report = make_report()
    entry = report.requirements[2]
    huge = dataclasses.replace(entry.evidence[0], message="Requirement: x\nEvidence 1:  agent GET /v1/" + "r" * 5000)
    report = dataclasses.replace(report, requirements=(dataclasses.replace(entry, evidence=(huge,)),))
    line = next(line for line in render_summary(report).splitlines() if "Evidence 1:" in line)
    assert line.endswith("… (4727 more characters in the reports)")
    assert len(line) < 400
    assert "r" * 5000 in json.dumps(report.to_json())


@pytest.mark.parametrize(
    "message", ["ReplayMiss: no request like it", f"{STOPPED_ON_ERROR}\nReplayMiss: no request like it"]
)
def test_summary_says_once_that_a_test_stopped_on_an_error(message: str) -> None:
    text = render_summary(make_report(message=message))
    assert text.count(STOPPED_ON_ERROR) == 1
    assert "    ReplayMiss: no request like it" in text
