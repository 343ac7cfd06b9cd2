"""What a CI dashboard and a reviewer's browser get: JUnit times, one-line findings and distinct
verdicts; an HTML page that fits a 1280 px window with every failure folded, checked in Chromium."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.reports.html import render_html
from conformance.reports.junit import render_junit
from conformance.reports.model import RunReport
from tests.conformance.test_report import MUST, make_report


def cases(report: RunReport) -> dict[str, ET.Element]:
    root = ET.fromstring(render_junit(report))  # noqa: S314 - our own output
    return {c.get("name", "").split()[0]: c for c in root.iter("testcase")}


def test_junit_time_is_what_the_tests_of_the_requirement_took() -> None:
    durations = {"suite/test_use.py::t0": 1.25, "suite/test_use.py::ok": 0.5, "suite/test_iss.py::t": 0.125}
    report = make_report(test_durations=durations)
    found = cases(report)
    assert found["SPT-USE-005"].get("time") == "1.750"
    assert found["SPT-ISS-001"].get("time") == "0.125"
    root = ET.fromstring(render_junit(report))  # noqa: S314 - our own output
    must = next(s for s in root.iter("testsuite") if s.get("name", "").startswith("spt-conformance MUST"))
    assert must.get("time") == "1.875"


def test_junit_failure_message_is_the_finding_not_the_statement() -> None:
    failure = cases(make_report())["SPT-USE-005"].find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith("Received: 200 with card")
    assert message.endswith("— expected: a 4xx Stripe error")
    assert MUST.statement not in message


def test_junit_every_testcase_names_its_verdict_and_inconclusive_is_not_expected() -> None:
    report = make_report()
    entries = list(report.requirements)
    entries[4] = dataclasses.replace(entries[4], verdict="INCONCLUSIVE", note="the clock moved under the test")
    found = cases(dataclasses.replace(report, requirements=tuple(entries)))
    verdicts = {
        rid: next(p.get("value") for p in case.iter("property") if p.get("name") == "verdict")
        for rid, case in found.items()
    }
    assert verdicts == {r.id: r.verdict for r in entries}
    inconclusive, expected = found["SPT-CLK-001"].find("skipped"), found["SPT-USE-013"].find("skipped")
    assert inconclusive is not None
    assert expected is not None
    assert (inconclusive.get("type"), expected.get("type")) == ("INCONCLUSIVE", "EXPECTED")
    assert inconclusive.get("message") == "the clock moved under the test"


def test_html_states_each_requirement_once_however_many_failures() -> None:
    page = render_html(make_report(broken=20))
    statement = "A payment over the headroom is refused &amp; nothing changes."
    assert page.count(statement) == 2  # its row in the table, and its section: not once per failure
    assert page.count('<details class="finding">') == 22  # 20 + the WARNING's + the EXPECTED's
    assert "<details open" not in page


# ---------------------------------------------------------------------------------- in a browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


_PROBE = """<script>
document.title = JSON.stringify({
  width: document.documentElement.scrollWidth,
  open: document.querySelectorAll('details[open]').length,
  findings: document.querySelectorAll('details.finding').length,
  widest: Math.max.apply(null, Array.from(document.querySelectorAll('pre, table, section')).map(
    function (el) { return el.getBoundingClientRect().right; }))
});
</script></body>"""


def _hostile_report() -> RunReport:
    """A failing report at its widest: long URLs, long unbroken tokens, many failures."""
    report = make_report(broken=20)
    entries = list(report.requirements)
    long_url = "GET http://127.0.0.1:12111/v1/shared_payment/issued_tokens/" + "spt_" + "x" * 400
    entry = entries[2]
    evidence = tuple(
        dataclasses.replace(
            e, message=e.message + f"\nEvidence 1:  {long_url}", exchanges=(long_url + "\n" + "y" * 900,)
        )
        for e in entry.evidence
    )
    entries[2] = dataclasses.replace(entry, evidence=evidence, note="n" * 300)
    return dataclasses.replace(report, requirements=tuple(entries))


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_html_fits_a_1280_pixel_window_in_a_real_browser(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium); .ci/run installs it")
    page = render_html(_hostile_report())
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", _PROBE, 1), encoding="utf-8")
    dumped = _headless(browser, "--dump-dom", probed.as_uri())
    match = re.search(r"<title>(\{.*?\})</title>", dumped.stdout)
    assert match is not None, dumped.stderr[-2000:]
    seen = json.loads(match.group(1).replace("&quot;", '"'))
    assert seen["width"] <= 1280, seen  # no horizontal scrolling: every column is on screen
    assert seen["widest"] <= 1280, seen
    assert seen["open"] == 0  # every failure and exchange folded
    assert seen["findings"] == 22
    shot = tmp_path / "report.png"
    page_file = tmp_path / "report.html"
    page_file.write_text(page, encoding="utf-8")
    _headless(browser, f"--screenshot={shot}", page_file.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, _ = struct.unpack(">II", header[16:24])
    assert width == 1280
