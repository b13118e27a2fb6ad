"""The seed's figure from end to end: 329 conversations through the engine, then the CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from civic.cli import app
from civic.engine import Engine
from civic.storage import Storage
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text(encoding="utf-8"))


def test_replaying_march_2021_gives_the_published_figure(storage: Storage) -> None:
    spec = importlib.util.spec_from_file_location("replay", ROOT / "examples" / "replay_2021.py")
    assert spec and spec.loader
    replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replay)
    assert replay.replay(Engine(storage, secret=SECRET)) == 329 * 6
    args = ["report", "--since", "2021-03-16", "--until", "2021-03-26"]
    args += ["--database-url", storage.url]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "total       329    329    329  100.0  9.83    98.3" in table.stdout
    result = CliRunner().invoke(app, [*args, "--format", "json", "--by", "department"])
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["total"]["contacts"] == 329
    assert report["total"]["mean_score"] == 9.83 and report["total"]["score_percent"] == 98.3
    assert report["scope"]["timezone"] == "America/Sao_Paulo"
    assert sum(group["indicators"]["contacts"] for group in report["groups"]) == 329
