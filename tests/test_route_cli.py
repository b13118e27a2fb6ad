"""``civic route "texto"``: where a message goes, each department's score, the words
that matched, the tie; the decision is the real routing hook's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civic import Department, hookimpl
from civic.cli import app
from civic.plugins import load_plugins

runner = CliRunner()


def route(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["route", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def department(found: dict[str, Any], slug: str) -> dict[str, Any]:
    return next(d for d in found["departments"] if d["slug"] == slug)


def test_subject_words_decide_and_their_points_are_shown() -> None:
    found = route("quero a segunda via do IPTU")
    assert (found["decision"], found["rule"], found["decided_by"]) == (
        "cac",
        "subject words",
        "routing",
    )
    cac = department(found, "cac")
    assert cac["subject"] == {"points": 3, "words": {"iptu": 3}}  # own keyword 2 + topic 1
    assert cac["generic"]["words"] == {"segunda via": 2}
    assert department(found, "procon")["subject"]["points"] == 0


def test_a_tie_is_shown() -> None:
    found = route("quero fazer uma reclamação")
    assert found["decision"] == ["cac", "procon"] and found["tie"] is True
    assert found["rule"] == "generic words"
    result = runner.invoke(app, ["route", "quero fazer uma reclamação"])
    assert "-> a tie between cac, procon: civic asks which" in result.output
    assert "reclamacao +3" in result.output


@pytest.mark.parametrize(
    ("text", "decision", "rule"),
    [
        ("2", "procon", "menu number"),
        ("Procon", "procon", "name"),
        ("oi", None, "nothing matched"),
        ("comprei um produto com defeito", "procon", "subject words"),
    ],
)
def test_each_rule(text: str, decision: str | None, rule: str) -> None:
    found = route(text)
    assert (found["decision"], found["rule"]) == (decision, rule)


def test_the_text_output_explains() -> None:
    result = runner.invoke(app, ["route", "alistamento militar"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "'alistamento militar' -> jsm"
    assert lines[1] == "decided by: subject words"
    assert any(line.split()[0] == "jsm" and "alistamento +3" in line for line in lines[2:])


def test_the_city_s_departments_and_keywords_count(tmp_path: Path) -> None:
    config = tmp_path / "civic.toml"
    config.write_text(
        'enabled = ["jsm", "cac"]\n[departments.jsm]\nkeywords = ["quartel"]\n',
        encoding="utf-8",
    )
    found = route("onde fica o quartel?", "--config", str(config))
    assert found["decision"] == "jsm"
    assert [d["slug"] for d in found["departments"]] == ["jsm", "cac"]
    assert department(found, "jsm")["subject"]["words"] == {"quartel": 2}


def test_another_plugin_s_routing_is_named() -> None:
    class Plugin:
        @hookimpl
        def route_message(self, departments: Sequence[Department], text: str) -> str | None:
            return "jsm" if "quartel" in text else None

    pm = load_plugins()
    plugin = Plugin()
    pm.register(plugin, name="civic_quartel")
    try:
        found = route("o quartel")
    finally:
        pm.unregister(plugin)
    assert (found["decision"], found["rule"], found["decided_by"]) == (
        "jsm",
        "plugin",
        "civic_quartel",
    )
