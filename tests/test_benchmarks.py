"""The benchmarks still run: ``benchmarks/run.py`` prints its table, baselines beside civic.

Tiny sizes, structure only: nothing here asserts a speed (the figures belong to
``docs/benchmarks.md``, measured on a known machine).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
#: A few whole conversations of the mix, and the first messages of some more.
ENGINE = ["--quick", "--only", "engine", "--messages", "150"]
#: The other benchmarks, tiny.
EVERY_OTHER = ["--only", "report", "--only", "startup", "--only", "reading"]
EVERY_OTHER += ["--rows", "2000", "--runs", "1"]
#: "1,234 message" in the note of what civic wrote.
WRITTEN = re.compile(r"([\d,]+) (\w+)(?=,|\.$)")


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def table() -> str:
    done = run(*ENGINE)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """Every benchmark, tiny, as JSON."""
    done = run(*ENGINE, *EVERY_OTHER, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_the_table_describes_the_machine(table: str) -> None:
    heading = table.split("\n\n")[0]
    for line in ("- cpu: ", "- cores: ", "- python: CPython ", "- sqlite: 3.", "- sizes: quick"):
        assert line in heading, heading


def test_the_engine_is_beside_both_baselines_as_ratios(table: str) -> None:
    lines = [line for line in table.splitlines() if line.startswith("| engine, SQLite")]
    header = next(line for line in table.splitlines() if line.startswith("| benchmark"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "benchmark",
        "figure",
        "civic",
        "baseline (same run)",
        "baseline",
        "ratio",
        "target",
    ]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    throughput = {row[3]: row for row in cells if row[1] == "messages/s"}
    floor = throughput["raw sqlite3 (floor)"]
    orm = throughput["SQLModel ORM, Session per message"]
    assert floor[5].endswith("% of floor") and floor[6].startswith("≥ 45 % of floor")
    assert orm[5].endswith("× ORM") and orm[6].startswith("≥ 6× ORM")
    latencies = [row for row in cells if row[1].startswith("p50 / p99")]
    assert {row[1] for row in latencies} == {
        "p50 / p99 wall ms per message",
        "p50 / p99 CPU ms per message",
    }
    assert len(latencies) == 4  # each beside the floor and the ORM
    assert all(" / " in row[2] and row[5].endswith("the time") for row in latencies)
    assert "WARNING" not in table


def test_the_mix_played_whole_conversations(report: dict[str, Any]) -> None:
    """The notes count what civic wrote: ratings of the conversations played to their
    end, and the protocols of the complaints (one conversation in eight)."""
    (note,) = [note for note in report["notes"] if note.startswith("engine, SQLite")]
    assert "150 inbound messages" in note
    written = {table: int(count.replace(",", "")) for count, table in WRITTEN.findall(note)}
    assert written["rating"] >= 8 and written["submission"] >= 1, note
    assert written["outbox"] >= 150, note
    assert not [note for note in report["notes"] if note.startswith("WARNING")]


def test_json_gives_the_values_unformatted(report: dict[str, Any]) -> None:
    assert report["machine"]["cores"] >= 1
    rows = [row for row in report["rows"] if row["benchmark"].startswith("engine, SQLite")]
    assert {row["baseline_name"] for row in rows} == {
        "raw sqlite3 (floor)",
        "SQLModel ORM, Session per message",
    }
    for row in rows:
        civic, baseline = row["civic"], row["baseline"]
        values = [*civic, *baseline] if isinstance(civic, list) else [civic, baseline]
        assert all(isinstance(value, float) and value > 0 for value in values), row
        assert row["cells"]["ratio"] == row["ratio"]


def test_every_benchmark_has_its_baselines(report: dict[str, Any]) -> None:
    baselines = {
        (row["benchmark"].split(",")[0].split(":")[0], row["baseline_name"])
        for row in report["rows"]
    }
    assert baselines == {
        ("engine", "raw sqlite3 (floor)"),
        ("engine", "SQLModel ORM, Session per message"),
        ("report", "naive: every row into Python"),
        ("startup", "python -c pass"),
        ("startup", "Typer app, two commands, --help"),
        ("reading", "old cpf.redact (redaction only)"),
    }
    figures = {row["figure"] for row in report["rows"] if row["benchmark"].startswith("report")}
    assert figures == {
        "`civic report` command, whole (s)",
        "build_report in-process (s)",
        "Python peak memory (MiB)",
    }
    assert all(row["ratio"] and row["ratio"] != "–" for row in report["rows"])


def test_the_report_command_agrees_with_the_baseline(report: dict[str, Any]) -> None:
    """The whole ``civic report`` command, ``build_report`` and the naive baseline give
    the same mean, contacts and NPS (a warning note otherwise)."""
    (note,) = [note for note in report["notes"] if note.startswith("report, SQLite")]
    assert "2,000 conversations and ratings generated" in note
    assert not [note for note in report["notes"] if "disagree" in note]
