"""Point 6: a configuration that would leave citizens unserved stops civic with a clear error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic.cli import app
from civic.config import parse_config
from civic.testing import Harness

runner = CliRunner()

WRONG = {
    "missing": ('enabled = ["cac", "ouvidoria"]\n', "department 'ouvidoria' is not installed"),
    "empty": ("enabled = []\n", "the list is empty, so no department would answer citizens"),
}


@pytest.fixture(params=sorted(WRONG))
def wrong(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    text, message = WRONG[request.param]
    path = tmp_path / "civic.toml"
    path.write_text(text, encoding="utf-8")
    return path, message


def test_config_check_refuses_it(wrong: tuple[Path, str]) -> None:
    path, message = wrong
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}: enabled: {message}" in result.stderr
    assert "installed: cac, jsm, procon" in result.stderr


def test_civic_run_refuses_it(wrong: tuple[Path, str], tmp_path: Path) -> None:
    path, message = wrong
    database = f"sqlite:///{tmp_path / 'c.db'}"
    result = runner.invoke(
        app, ["run", "--config", str(path), "--database-url", database], input="oi\n"
    )
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr and message in result.stderr
    assert "civic>" not in result.stdout  # no citizen was answered


def test_civic_serve_refuses_it(
    wrong: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("civic serve started")

    monkeypatch.setattr(uvicorn, "run", never)
    root = logging.getLogger()  # civic serve sets up logging on the runner's stderr
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    path, message = wrong
    database = f"sqlite:///{tmp_path / 'c.db'}"
    result = runner.invoke(
        app, ["serve", "--dev", "--config", str(path), "--database-url", database, "--port", "1"]
    )
    assert result.exit_code == 1
    assert message in result.stderr


def test_the_engine_itself_refuses_it() -> None:
    for enabled in ([], ["ouvidoria"]):
        with pytest.raises(ValueError, match="enabled"):
            Harness(installed=True, config=parse_config({"enabled": enabled}))


def test_a_good_list_and_no_list_start() -> None:
    with Harness(installed=True, config={"enabled": ["procon"]}) as h:
        assert h.engine.registry.slugs == ["procon"]
    with Harness(installed=True) as h:
        assert sorted(h.engine.registry.slugs) == ["cac", "jsm", "procon"]
