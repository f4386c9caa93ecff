"""docs/RELIABILITY.md, written from the test run: a row per fault or bad input a passing test shows.

A test says what it shows with a marker (several when it shows several)::

    @pytest.mark.reliability("input", "`cloudops promote latest --to qa-typo`", "refused in one line ...")

The first argument is the table: ``fault`` (something broken on purpose) or ``input`` (a mistake a person
makes). At the end of a session in which every marked test ran and passed, the document is written again from
the markers, so it lists only what the run has just shown; a partial or failing run leaves it as it is and
says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

MARKER = "reliability"
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DOCUMENT = ROOT / "docs" / "RELIABILITY.md"
TABLES = {
    "fault": ("Faults", "Something broken on purpose, against the real parts", "The fault"),
    "input": ("Bad input", "A mistake a person makes, refused before any run starts or anything changes", "The input"),
}


@dataclass(frozen=True)
class Row:
    table: str
    case: str
    outcome: str
    test: str


def rows_of(item: pytest.Item) -> list[Row]:
    rows = []
    for marker in item.iter_markers(MARKER):
        table, case, outcome = marker.args
        if table not in TABLES:
            raise pytest.UsageError(f"{item.nodeid}: reliability table {table!r} is not one of {', '.join(TABLES)}")
        rows.append(Row(table, case, outcome, item.nodeid))
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "# Reliability: what the pipeline does when things break or people make mistakes",
        "",
        "Written by the test run (`tests/reliability_table.py`): each row is shown by the test it names, which",
        "passed in the run that wrote this file. Run the README's test command to write it again.",
        "",
    ]
    for table, (title, what, column) in TABLES.items():
        mine = [r for r in rows if r.table == table]
        lines += [f"## {title} ({len(mine)})", "", f"{what}.", "", f"| {column} | What the pipeline did | Test |"]
        lines.append("|---|---|---|")
        lines += [f"| {r.case} | {r.outcome} | `{r.test}` |" for r in sorted(mine, key=lambda r: (r.test, r.case))]
        lines.append("")
    return "\n".join(lines)


class ReliabilityTable:
    """The pytest plugin: collects the marked tests' rows and their outcomes, writes the document at the end."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Row]] = {}
        self.passed: set[str] = set()
        self.all_marked_collected = True

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        for item in items:
            found = rows_of(item)
            if found:
                self.rows[item.nodeid] = found
        every_path = {(ROOT / path).resolve() for path in config.getini("testpaths")}
        whole_suite = {Path(arg).resolve() for arg in config.args} == every_path
        self.all_marked_collected = whole_suite and not (config.option.keyword or config.option.markexpr)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.passed.add(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.rows:
            return
        missing = sorted(set(self.rows) - self.passed)
        if missing or not self.all_marked_collected:
            why = f"{len(missing)} marked tests did not pass" if missing else "not every test was collected"
            terminalreporter.write_line(f"{DOCUMENT.name} not written: {why}")
            return
        rows = [row for found in self.rows.values() for row in found]
        DOCUMENT.parent.mkdir(exist_ok=True)
        DOCUMENT.write_text(markdown(rows), encoding="utf-8")
        terminalreporter.write_line(f"{DOCUMENT.name} written: {len(rows)} rows from {len(self.rows)} tests")
