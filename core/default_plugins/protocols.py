"""Readable protocol numbers: ``PROCON-2026-000123``."""

from __future__ import annotations

from civic import hookimpl
from civic.values import Department


@hookimpl(trylast=True)
def protocol_number(department: Department, year: int, sequence: int) -> str:
    return f"{department.prefix}-{year}-{sequence:06d}"
