"""``civic plugins check``: every problem of what the plugins register, with the plugin
named; errors exit 1, warnings only with ``--strict``, notes never."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic import Department, hookimpl
from civic.cli import app
from civic.plugins import load_plugins

runner = CliRunner()

BROKEN_IN_HOOK = """
from civic import Department, hookimpl

@hookimpl
def register_departments(register):
    register(Department(slug="ouvidoria", name="Ouvidoria", keywords="denuncia"))
"""
BROKEN_AT_IMPORT = """
from civic import Department, Topic, hookimpl

DEPARTMENT = Department(
    slug="ouvidoria", name="Ouvidoria", topics=(Topic("Elogiar", answer="Obrigado!"))
)

@hookimpl
def register_departments(register):
    register(DEPARTMENT)
"""


def civic(*args: str, plugins: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run the real ``civic`` with one development plugin."""
    env = {**os.environ, "CIVIC_PLUGINS": str(plugins), "CIVIC_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "civic", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def plugged() -> Iterator[Callable[[str, object], None]]:
    pm = load_plugins()
    added: list[object] = []

    def register(name: str, plugin: object) -> None:
        pm.register(plugin, name=name)
        added.append(plugin)

    try:
        yield register
    finally:
        for plugin in added:
            pm.unregister(plugin)


def test_a_clean_install_passes() -> None:
    result = runner.invoke(app, ["plugins", "check", "--strict"])
    assert result.exit_code == 0, result.output
    assert "3 department(s) checked: 0 error(s), 0 warning(s), 3 note(s)" in result.output
    assert "note: plugin procon, department procon: keywords: shares generic words" in (
        result.output
    )


def test_a_department_broken_in_its_hook_fails_naming_the_plugin(tmp_path: Path) -> None:
    path = tmp_path / "civic_ouvidoria.py"
    path.write_text(BROKEN_IN_HOOK, encoding="utf-8")
    result = civic("plugins", "check", plugins=path, home=tmp_path)
    assert result.returncode == 1, result.stderr
    assert (
        "error: plugin civic_ouvidoria, department ouvidoria: keywords: Department "
        "'ouvidoria': keywords must be a tuple of words, not the str 'denuncia': write "
        "keywords=('denuncia',)"
    ) in result.stdout
    assert "1 error(s)" in result.stdout


def test_a_department_broken_at_import_fails_naming_the_plugin(tmp_path: Path) -> None:
    path = tmp_path / "civic_ouvidoria.py"
    path.write_text(BROKEN_AT_IMPORT, encoding="utf-8")
    result = civic("plugins", "check", plugins=path, home=tmp_path)
    assert result.returncode == 1
    assert f"cannot load plugin {path}: Department 'ouvidoria': topics must be a tuple" in (
        result.stderr
    )
    assert "add the trailing comma, topics=(Topic(...),)" in result.stderr


def test_warnings_fail_only_when_strict(plugged: Callable[[str, object], None]) -> None:
    class Library:
        @hookimpl
        def register_departments(self, register: Callable[[Department], None]) -> None:
            register(Department(slug="biblioteca", name="Biblioteca", keywords=("escola",)))

    plugged("civic_biblioteca", Library())
    result = runner.invoke(app, ["plugins", "check"])
    assert result.exit_code == 0
    assert (
        "warning: plugin civic_biblioteca, department biblioteca: keywords: shares subject "
        "words with department 'cac' (plugin cac): 'escola' alone goes to cac"
    ) in result.output
    assert "none of its keywords routes to it alone" in result.output
    assert runner.invoke(app, ["plugins", "check", "--strict"]).exit_code == 1


def test_json_lists_every_problem(plugged: Callable[[str, object], None]) -> None:
    class Clash:
        @hookimpl
        def register_departments(self, register: Callable[[Department], None]) -> None:
            register(Department(slug="defesa", name="Defesa", protocol_prefix="PROCON"))

    plugged("civic_defesa", Clash())
    result = runner.invoke(app, ["plugins", "check", "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert rows[0] == {
        "severity": "error",
        "plugin": "civic_defesa",
        "department": "defesa",
        "what": "protocol_prefix",
        "why": "protocol prefix 'PROCON' is already used by department 'procon' of plugin "
        "procon: protocol numbers would be shared",
    }
    assert {row["severity"] for row in rows} == {"error", "note"}


def test_the_city_s_keywords_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "civic.toml"
    config.write_text('[departments.jsm]\nkeywords = ["iptu"]\n', encoding="utf-8")
    result = runner.invoke(app, ["plugins", "check", "--config", str(config)])
    assert result.exit_code == 0
    assert "department jsm: keywords: shares subject words with department 'cac'" in (result.output)


def test_plugins_still_lists() -> None:
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    assert "cac" in {info["name"] for info in json.loads(result.stdout)}
