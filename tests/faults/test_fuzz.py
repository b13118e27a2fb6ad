"""The short fuzz run (2,000 inputs) of :mod:`tests.faults.fuzz`, as a normal test.

The long one: ``python -m tests.faults.fuzz --inputs 100000``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.faults import fuzz


def test_two_thousand_hostile_inputs_find_no_crash_no_5xx_no_cpf_and_no_loss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)  # thousands of dead letters: the run keeps its own log
    figures = fuzz.run(2000, seed=13, folder=tmp_path)
    assert figures.problems() == [], figures.summary()
    # The run exercised what it claims to: acknowledged, refused and unsigned deliveries,
    # engine calls, CPFs.
    assert figures.http[200] > 300 and figures.http[400] > 0 and figures.http[401] > 0
    assert figures.engine_calls == 1000 and figures.tracked > 700
    assert figures.cpfs_sent > 100 and figures.log_lines > 1000


def test_the_cpf_scan_finds_a_cpf_in_clear() -> None:
    cpf = "52998224725"
    data = b"... 529.982.247-25 ... 52998224725 ... 152998224725"
    assert fuzz._cpfs_in(data, {cpf}) == ["529.***.***-25"]
    assert fuzz._cpfs_in(b"152998224725 ***.982.247-**", {cpf}) == []
