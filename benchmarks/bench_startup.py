"""Benchmark start-up: wall time of ``civic --help``, and what its imports cost.

    python benchmarks/bench_startup.py [--runs N] [--baseline PYTHON]

Runs ``PYTHON -m civic --help`` N times in fresh processes (plugin loading included)
and reports the median and the fastest run. With ``--baseline``, the interpreter of
another checkout (for example a ``git worktree`` of an older commit with its own venv:
``/tmp/civic-base/.venv/bin/python``) is measured in the same run, the two alternating
so that a busy machine slows both alike, and the ratio is printed. Then ``-X importtime``
of the current checkout: self time per top-level package, and which heavy packages
(the database stack, jsonschema) were imported at all.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

HEAVY = ("alembic", "cryptography", "jsonschema", "psycopg", "sqlalchemy", "sqlmodel")
HELP = ["-m", "civic", "--help"]
#: As an installed civic runs: modules compiled once to ``__pycache__``, then reused.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(python: str) -> float:
    """Seconds for one ``civic --help`` in a new process."""
    start = time.perf_counter()
    subprocess.run([python, *HELP], check=True, capture_output=True, env=ENV)
    return time.perf_counter() - start


def import_breakdown(python: str) -> tuple[Counter[str], float]:
    """Microseconds of import time per top-level package, and the total, in ms."""
    done = subprocess.run(
        [python, "-X", "importtime", *HELP], check=True, capture_output=True, text=True, env=ENV
    )
    own: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        own[name.strip().split(".")[0]] += int(self_us)
    return own, sum(own.values()) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per interpreter")
    parser.add_argument("--baseline", help="python of a baseline checkout, measured too")
    args = parser.parse_args()

    pythons = {"current": sys.executable}
    if args.baseline:
        pythons["baseline"] = args.baseline
    for python in pythons.values():
        once(python)  # warm the file cache and write the .pyc files
    times: dict[str, list[float]] = {name: [] for name in pythons}
    for _ in range(args.runs):
        for name, python in pythons.items():
            times[name].append(once(python))

    print(f"civic --help, {args.runs} runs each (fresh process, plugins loaded):")
    medians = {}
    for name, found in times.items():
        medians[name] = statistics.median(found) * 1000
        print(f"  {name:<9} median {medians[name]:7.1f} ms   fastest {min(found) * 1000:7.1f} ms")
    if "baseline" in medians:
        print(f"  ratio     {medians['baseline'] / medians['current']:.1f}x faster than baseline")

    own, total = import_breakdown(sys.executable)
    print(f"\nimports of the current checkout: {total:.0f} ms in all (-X importtime self times)")
    for package, micros in own.most_common(12):
        print(f"  {micros / 1000:7.1f} ms  {package}")
    loaded = sorted(set(own) & set(HEAVY))
    print(f"heavy packages imported: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
