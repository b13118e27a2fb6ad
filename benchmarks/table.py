"""The one table every benchmark adds its rows to, and how it is printed.

A :class:`Row` is one figure of civic beside one baseline measured in the same run, and
the ratio between them. The table prints as Markdown (so a run can be pasted into
``docs/benchmarks.md`` as it is) or as JSON (``run.py --json``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

HEADER = ("benchmark", "figure", "civic", "baseline (same run)", "baseline", "ratio", "target")


@dataclass(frozen=True)
class Row:
    """One figure of civic beside one baseline.

    :param benchmark: what was run, and on which database (``engine, SQLite``).
    :param figure: what is measured, with its unit (``messages/s``, ``p99 CPU ms``).
    :param civic: civic's value.
    :param baseline_name: the baseline (``raw sqlite3 (floor)``).
    :param baseline: the baseline's value, measured in the same run.
    :param ratio: the ratio as printed (``6.1 % of floor``, ``3.3× faster``).
    :param target: the target, for information (never asserted), or ``""``.
    :param met: whether the target is met (``None`` when there is none).
    :param unit: the format of the values: ``int`` (a count or a rate: thousands
        separated, three significant digits under 100), ``ms``, ``s`` or ``MiB``; a pair
        of values (p50 and p99) prints as ``a / b``.
    """

    benchmark: str
    figure: str
    civic: float | tuple[float, float]
    baseline_name: str
    baseline: float | tuple[float, float]
    ratio: str
    target: str = ""
    met: bool | None = None
    unit: str = "int"
    notes: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> tuple[str, ...]:
        """The row's cells, formatted."""
        target = self.target
        if target and self.met is not None:
            target += " (met)" if self.met else " (not met)"
        return (
            self.benchmark,
            self.figure,
            number(self.civic, self.unit),
            self.baseline_name,
            number(self.baseline, self.unit),
            self.ratio,
            target,
        )


def number(value: float | tuple[float, float], unit: str) -> str:
    """A value as the table prints it."""
    if isinstance(value, tuple):
        return " / ".join(number(part, unit) for part in value)
    if math.isnan(value):
        return "–"
    if unit == "int":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if unit == "ms":
        return f"{value:.3f}" if value < 1 else f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if unit == "s":
        return f"{value:,.2f}"
    if unit == "MiB":
        return f"{value:,.2f}"
    return f"{value:,.3g}"


def times(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero."""
    return numerator / denominator if denominator else math.nan


def faster(civic_seconds: float, baseline_seconds: float) -> str:
    """``3.3× faster`` (or ``1.5× slower``) than the baseline."""
    if not civic_seconds or not baseline_seconds:
        return "–"
    if civic_seconds <= baseline_seconds:
        return f"{baseline_seconds / civic_seconds:.1f}× faster"
    return f"{civic_seconds / baseline_seconds:.1f}× slower"


def markdown(rows: Sequence[Row]) -> str:
    """The rows as one Markdown table, columns padded so it reads well in a terminal."""
    lines = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADER))]

    def render(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "| " + " | ".join("-" * width for width in widths) + " |"
    return "\n".join([render(HEADER), rule, *(render(cells) for cells in lines[1:])])


def as_json(machine: dict[str, Any], rows: Sequence[Row], notes: Sequence[str]) -> str:
    """The machine, the rows (values unformatted too) and the notes, as JSON."""
    return json.dumps(
        {
            "machine": machine,
            "rows": [
                {**asdict(row), "cells": dict(zip(HEADER, row.cells(), strict=True))}
                for row in rows
            ],
            "notes": list(notes),
        },
        ensure_ascii=False,
        indent=2,
        default=str,
    )
