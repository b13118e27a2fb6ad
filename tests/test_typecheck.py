"""mypy, strict, passes over civic and the built-in departments, by their import names.

pyproject maps the import names onto folders (``civic`` is ``core/``, ``civic_cac`` is
``plugins/cac/``...). An editable install reaches them through an import hook that mypy
cannot follow (python/mypy#13392), and ``mypy core`` would check a top-level module
``core`` that nobody imports. So the packages are laid out under their import names as a
tree of links to the source files, in ``.mypy_cache/packages`` (rebuilt on every run,
only where it changed), and mypy runs ``-p civic -p civic_cac ...`` on it with the
``[tool.mypy]`` configuration of pyproject.toml. The incremental cache stays in
``.mypy_cache``, so a run after a small change takes seconds.

By hand (extra arguments go to mypy): ``python tests/test_typecheck.py``.
"""

from __future__ import annotations

import os
import re
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".mypy_cache"
PACKAGES = CACHE / "packages"
#: What a package's folder holds that mypy reads.
TYPED_FILES = (".py", ".pyi")


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Every package pyproject installs, by import name, with its source folder: the
    longest ``package-dir`` prefix of the name, then its remaining parts as folders
    (as setuptools maps them)."""
    setuptools = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    mapping: dict[str, str] = setuptools.get("package-dir", {})
    found = {}
    for package in setuptools["packages"]:
        parts = package.split(".")
        base, rest = root, parts
        for size in range(len(parts), 0, -1):
            prefix = ".".join(parts[:size])
            if prefix in mapping:
                base, rest = root / mapping[prefix], parts[size:]
                break
        found[package] = base.joinpath(*rest)
    return found


def link_tree(dest: Path, packages: dict[str, Path]) -> None:
    """Lay ``packages`` out under ``dest`` by import name, each source file a link to the
    real one; links and folders that no longer have a source are removed."""
    wanted = {dest.joinpath(*name.split(".")): source for name, source in packages.items()}
    for folder in _folders(dest):
        if folder not in wanted and not any(folder in w.parents for w in wanted):
            _remove(folder)
    for folder, source in wanted.items():
        folder.mkdir(parents=True, exist_ok=True)
        files = {f.name: f for f in source.iterdir() if _typed(f)}
        for link in folder.iterdir():
            if link.is_symlink() and link.name not in files:
                link.unlink()
        for name, target in files.items():
            link = folder / name
            if not link.is_symlink() or link.readlink() != target:
                fresh = folder / f".{name}.{os.getpid()}"
                fresh.symlink_to(target)
                fresh.replace(link)  # atomic: another run may be reading the tree


def _typed(path: Path) -> bool:
    return path.is_file() and (path.suffix in TYPED_FILES or path.name == "py.typed")


def _folders(dest: Path) -> Iterator[Path]:
    if dest.is_dir():
        for path in sorted(dest.rglob("*"), reverse=True):  # children first
            if path.is_dir() and not path.is_symlink():
                yield path


def _remove(folder: Path) -> None:
    if not folder.exists():
        return
    for path in folder.iterdir():
        if path.is_symlink() or path.is_file():
            path.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


def readable(report: str) -> str:
    """mypy's report with the linked paths (``.mypy_cache/packages/civic/engine.py``)
    given as the source files (``core/engine.py``)."""

    def source(match: re.Match[str]) -> str:
        path = Path(match.group(1))
        path = path if path.is_absolute() else Path.cwd() / path
        if not path.is_symlink():
            return match.group(0)
        return os.path.relpath(path.resolve(), ROOT) + ":"

    return re.sub(r"^([^\s:]+\.pyi?):", source, report, flags=re.MULTILINE)


def run_mypy(extra: Sequence[str] = ()) -> tuple[str, int, float]:
    """Lay out the tree and run mypy in this interpreter: its report (source paths),
    its exit status and how long it took in seconds."""
    from mypy import api

    packages = package_dirs()
    link_tree(PACKAGES, packages)
    tops = sorted({name.split(".")[0] for name in packages})
    previous = os.environ.get("MYPYPATH")
    os.environ["MYPYPATH"] = str(PACKAGES)
    started = time.perf_counter()
    try:
        stdout, stderr, status = api.run(
            [
                "--config-file", str(ROOT / "pyproject.toml"),
                "--cache-dir", str(CACHE),
                *[arg for top in tops for arg in ("-p", top)],
                *extra,
            ]
        )  # fmt: skip
    finally:
        if previous is None:
            del os.environ["MYPYPATH"]
        else:
            os.environ["MYPYPATH"] = previous
    return readable(stdout + stderr), status, time.perf_counter() - started


def test_packages_are_mapped_by_import_name(tmp_path: Path) -> None:
    """The tree holds every package by its import name, links to the real source files,
    and forgets a file or package that went away."""
    packages = package_dirs()
    assert packages["civic"] == ROOT / "core"
    assert packages["civic.testing"] == ROOT / "core" / "testing"
    assert packages["civic.schemas"] == ROOT / "schemas"
    assert packages["civic_procon"] == ROOT / "plugins" / "procon"

    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    for name in ("__init__.py", "old.py", "notes.txt", "sub/__init__.py"):
        (source / name).write_text("", encoding="utf-8")
    dest = tmp_path / "tree"
    link_tree(dest, {"pkg": source, "pkg.sub": source / "sub"})
    assert sorted(p.name for p in (dest / "pkg").iterdir()) == ["__init__.py", "old.py", "sub"]
    assert (dest / "pkg" / "old.py").resolve() == (source / "old.py").resolve()

    line = f"{dest / 'pkg' / 'old.py'}:3: error: Bad  [misc]"
    assert readable(line) == f"{os.path.relpath(source / 'old.py', ROOT)}:3: error: Bad  [misc]"

    (source / "old.py").unlink()
    link_tree(dest, {"pkg": source})
    assert sorted(p.name for p in (dest / "pkg").iterdir()) == ["__init__.py"]


def test_mypy_strict_passes() -> None:
    """``mypy -p civic -p civic_cac -p civic_jsm -p civic_procon`` (strict, as configured
    in pyproject.toml) finds nothing, civic.testing included."""
    pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[test]')")
    report, status, _ = run_mypy()
    assert status == 0, f"mypy found problems:\n{report}"
    assert "Success: no issues found" in report, report


def main(argv: Sequence[str]) -> int:
    """Run mypy as the test does, printing its report and timing."""
    report, status, seconds = run_mypy(argv)
    print(report.rstrip())
    print(f"mypy took {seconds:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
