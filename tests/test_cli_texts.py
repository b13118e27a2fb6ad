"""``civic texts``: a city finds the keys it can override."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from civic.cli import app

runner = CliRunner()


def test_list_shows_core_department_and_word_keys() -> None:
    result = runner.invoke(app, ["texts", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    keys = json.loads(result.stdout)
    assert keys["welcome"].startswith("Olá!")
    assert keys["procon.name"] == "PROCON"
    assert "encerrar" in keys["words.close"]


def test_list_filters_and_shows_the_city_s_overrides(tmp_path: Path) -> None:
    city = tmp_path / "civic.toml"
    city.write_text('[texts]\nwelcome = "Bem-vindo, {city}!"\n', encoding="utf-8")
    result = runner.invoke(app, ["texts", "list", "--changed", "--config", str(city)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["welcome = Bem-vindo, {city}!"]
    words = runner.invoke(app, ["texts", "list", "words.yes"])
    assert words.stdout.startswith('words.yes = ["sim"')
    nothing = runner.invoke(app, ["texts", "list", "nope."])
    assert nothing.exit_code == 1 and "no text key starts with 'nope.'" in nothing.stderr


def test_show_gives_the_line_to_copy(tmp_path: Path) -> None:
    result = runner.invoke(app, ["texts", "show", "goodbye"])
    assert result.exit_code == 0
    assert '[texts] "goodbye" = "Tudo bem, até logo!' in result.stdout
    unknown = runner.invoke(app, ["texts", "show", "goodby"])
    assert unknown.exit_code == 1 and "did you mean: goodbye" in unknown.stderr
    broken = tmp_path / "civic.toml"
    broken.write_text("city = \n", encoding="utf-8")
    invalid = runner.invoke(app, ["texts", "show", "welcome", "--config", str(broken)])
    assert invalid.exit_code == 1 and "invalid configuration" in invalid.stderr
