"""The documentation shows what the code does: examples run, signatures match."""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic import hookspecs
from civic.cli import app
from civic.engine import Engine
from civic.plugins import make_manager
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_transcript_is_real_output(tmp_path: Path) -> None:
    block = re.search(r"```console\n\$ printf (.*?)\| civic run\n(.*?)```", README, re.S)
    assert block, "the README's sample conversation is missing"
    lines = shlex.split(block.group(1).replace("\\\n", " "))[1:]
    result = CliRunner().invoke(
        app, ["run", "--database-url", f"sqlite:///{tmp_path / 'c.db'}"], input="\n".join(lines)
    )
    assert result.exit_code == 0
    assert result.stdout.strip() == block.group(2).strip()


def test_readme_example_plugin_works(tmp_path: Path) -> None:
    code = re.search(r"<!-- example-plugin -->\n```python\n(.*?)```", README, re.S)
    assert code, "the README's example plugin is missing"
    assert len(code.group(1).strip().splitlines()) <= 30
    path = tmp_path / "civic_biblioteca.py"
    path.write_text(code.group(1), encoding="utf-8")
    manager = make_manager({"CIVIC_PLUGINS": str(path)})
    storage = Storage(f"sqlite:///{tmp_path / 'c.db'}")
    storage.migrate()
    chat = Chat(Engine(storage, secret=SECRET, manager=manager))
    assert "Biblioteca Municipal — Empréstimos" in chat.send(MARIA)
    assert "Abrimos de segunda a sábado" in chat.send("qual o horário da biblioteca?")
    chat.send("sim")
    assert "Renovação feita" in chat.script("biblioteca", "quero renovar meu livro")


def hook_signatures() -> dict[str, str]:
    found = {}
    for name in dir(hookspecs):
        function = getattr(hookspecs, name)
        if hasattr(function, "civic_spec"):
            params = ", ".join(inspect.signature(function).parameters)
            found[name] = f"{name}({params})"
    return found


@pytest.mark.parametrize("signature", sorted(hook_signatures().values()))
def test_every_hook_is_in_the_reference(signature: str) -> None:
    reference = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
    assert f"## {signature}" in reference


def test_hook_reference_is_generated_from_the_code() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate_hooks", ROOT / "docs" / "generate_hooks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
    assert committed == module.render(), "run: python docs/generate_hooks.py"
