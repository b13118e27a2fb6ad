"""What the benchmarks ran on: CPU, cores, load, Python, the databases' versions."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe(postgres_version: str | None = None) -> dict[str, Any]:
    """The machine and the software versions, as the table's heading lists them."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    found: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load average (1, 5, 15 min) at start": (
            ", ".join(f"{value:.2f}" for value in load) if load else "unknown"
        ),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": _version("sqlalchemy"),
        "sqlmodel": _version("sqlmodel"),
        "civic": _version("civic"),
    }
    if postgres_version:
        found["postgresql"] = postgres_version
        found["psycopg"] = _version("psycopg")
    return found


def markdown(machine: dict[str, Any]) -> str:
    """The description as a Markdown list."""
    return "\n".join(f"- {key}: {value}" for key, value in machine.items())


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
