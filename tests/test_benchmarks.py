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

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"
#: A few whole conversations of the mix, and the first messages of some more.
ENGINE = ["--quick", "--only", "engine", "--messages", "150"]
#: The other benchmarks, tiny.
EVERY_OTHER = ["--only", "report", "--only", "startup", "--only", "reading"]
EVERY_OTHER += ["--rows", "2000", "--runs", "1"]
#: A handful of deliveries through civic serve, 1 and 2 workers (the quick layouts).
WEBHOOK = ["--quick", "--only", "webhook", "--deliveries", "24", "--concurrency", "4"]
WEBHOOK_ONE, WEBHOOK_TWO = "webhook, SQLite, 1 worker", "webhook, SQLite, 2 workers"
#: A few messages in each of 1, 2 and 4 processes (PostgreSQL only).
WORKERS = ["--quick", "--only", "workers", "--worker-messages", "48"]
#: "1,234 message" in the note of what civic wrote.
WRITTEN = re.compile(r"([\d,]+) (\w+)(?=,|\.$)")


def run(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


def as_json(*arguments: str, timeout: float = 120) -> dict[str, Any]:
    done = run(*arguments, "--json", timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def table() -> str:
    done = run(*ENGINE)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """Every benchmark but the webhook's and the workers', tiny, as JSON."""
    return as_json(*ENGINE, *EVERY_OTHER)


@pytest.fixture(scope="module")
def webhook() -> dict[str, Any]:
    """The webhook benchmark on SQLite, a handful of deliveries, as JSON."""
    return as_json(*WEBHOOK, timeout=240)


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
        ("startup", "`civic --help`"),
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


def test_civic_run_start_up_is_beside_help_and_the_interpreter(report: dict[str, Any]) -> None:
    rows = [row for row in report["rows"] if row["figure"].startswith("`civic run`")]
    assert {(row["figure"], row["baseline_name"]) for row in rows} == {
        (figure, baseline)
        for figure in (
            "`civic run` to its first prompt, wall (ms)",
            "`civic run`, one message piped in: first reply and exit, wall (ms)",
        )
        for baseline in ("`civic --help`", "python -c pass")
    }
    assert all(row["civic"] > 0 and row["baseline"] > 0 for row in rows)


def test_the_webhook_answers_every_delivery_beside_the_http_floor(
    webhook: dict[str, Any],
) -> None:
    """civic serve with 1 and 2 workers acknowledged every delivery of the tiny run,
    every one was answered at the fake Graph API, and each figure has the bare
    Starlette webhook beside it."""
    rows = webhook["rows"]
    assert {row["benchmark"] for row in rows} == {WEBHOOK_ONE, WEBHOOK_TWO}
    for bench in (WEBHOOK_ONE, WEBHOOK_TWO):
        mine = {row["figure"].split(", all")[0]: row for row in rows if row["benchmark"] == bench}
        assert set(mine) == {
            "deliveries/s acknowledged",
            "p50 / p99 acknowledgement ms",
            "deliveries answered (replies at the fake Graph API)",
            "peak resident memory, largest process (MiB)",
            "peak resident memory",
        }
        answered = mine["deliveries answered (replies at the fake Graph API)"]
        assert answered["civic"] == answered["baseline"] == 24.0
        assert answered["ratio"] == "100.0 % answered" and answered["met"] is True
        throughput = mine["deliveries/s acknowledged"]
        assert throughput["baseline_name"] == "bare Starlette webhook (HTTP floor)"
        assert throughput["civic"] > 0 and throughput["baseline"] > 0
        largest = mine["peak resident memory, largest process (MiB)"]
        total = mine["peak resident memory"]
        for side in ("civic", "baseline"):
            assert 0 < largest[side] <= total[side]
    one, two = (
        next(
            row["figure"] for row in rows if row["benchmark"] == bench and ", all " in row["figure"]
        )
        for bench in (WEBHOOK_ONE, WEBHOOK_TWO)
    )
    assert one == "peak resident memory, all 1 process (MiB)"
    assert int(two.split()[4]) >= 3, two  # uvicorn's supervisor and two workers at least
    assert not [note for note in webhook["notes"] if note.startswith("WARNING")]


def test_the_webhook_notes_say_how_the_replies_went(webhook: dict[str, Any]) -> None:
    (note,) = [n for n in webhook["notes"] if n.startswith(f"{WEBHOOK_ONE}:")]
    assert "24 deliveries acknowledged" in note
    assert "conversations played to their end closed" in note


def test_the_workers_benchmark_is_skipped_without_postgresql() -> None:
    found = as_json("--quick", "--only", "workers")
    (row,) = found["rows"]
    assert row["figure"] == "skipped: needs --database-url (PostgreSQL)"
    assert row["ratio"] == "not run"


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs CIVIC_TEST_DATABASE_URL (PostgreSQL)")
def test_the_workers_benchmark_runs_1_2_and_4_processes_beside_raw_psycopg() -> None:
    assert POSTGRES_URL
    found = as_json(*WORKERS, "--database-url", POSTGRES_URL, timeout=240)
    throughput = {
        row["benchmark"].split(", ")[2]: row
        for row in found["rows"]
        if row["figure"] == "messages/s, all processes"
    }
    assert set(throughput) == {"1 process", "2 processes", "4 processes"}
    for row in throughput.values():
        assert row["baseline_name"] == "raw psycopg (floor), as many processes"
        assert row["ratio"].endswith("% of floor") and row["civic"] > 0 and row["baseline"] > 0
    assert throughput["4 processes"]["target"] == "≥ 80 % of floor"
    latencies = [row for row in found["rows"] if row["figure"].startswith("p50 / p99")]
    assert len(latencies) == 3
    assert not [note for note in found["notes"] if note.startswith("WARNING")]
