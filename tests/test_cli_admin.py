"""Operator commands: forms, protocols; and protocol numbers under concurrency."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic import Department, departments, hookimpl
from civic.cli import app
from civic.plugins import load_plugins
from civic.storage import Storage, utcnow

runner = CliRunner()


def test_forms_list_and_show() -> None:
    listed = json.loads(runner.invoke(app, ["forms", "list", "--json"]).stdout)
    names = {f"{row['department']}/{row['form']}" for row in listed}
    assert {"cac/solicitacao", "procon/reclamacao", "jsm/atendimento"} <= names
    shown = runner.invoke(app, ["forms", "show", "procon/reclamacao"])
    assert json.loads(shown.stdout)["title"] == "Reclamação contra fornecedor"
    missing = runner.invoke(app, ["forms", "show", "procon/nope"])
    assert missing.exit_code == 2 and "no form 'procon/nope'" in missing.stderr


def test_forms_validate_built_in_forms_pass() -> None:
    result = runner.invoke(app, ["forms", "validate"])
    assert result.exit_code == 0, result.output
    assert "procon: procon/reclamacao: OK" in result.stdout


def test_forms_validate_a_broken_file_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "form.json"
    broken.write_text(
        json.dumps(
            {
                "title": "Teste",
                "properties": {
                    "a": {"type": "strng", "title": "A?"},
                    "b": {"title": "B?", "format": "cpff"},
                },
                "required": ["c"],
            }
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["forms", "validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: $.properties.a.type: 'strng' is not one of" in result.stderr
    not_json = tmp_path / "x.json"
    not_json.write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["forms", "validate", str(not_json)])
    assert result.exit_code == 1 and "cannot read JSON" in result.stderr


def test_broken_form_in_a_plugin_disables_only_its_department(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        __name__ = "civic-broken"

        @hookimpl
        def register_departments(self, register: Callable[[Department], None]) -> None:
            register(
                Department(
                    slug="quebrado",
                    name="Quebrado",
                    forms={"f": {"title": "F", "properties": {"x": {"type": "string"}}}},
                )
            )

    pm = load_plugins()
    plugin = Broken()
    pm.register(plugin, name="civic-broken")
    try:
        with caplog.at_level(logging.WARNING):
            registry = departments.collect(pm)
        result = runner.invoke(app, ["forms", "validate"])
    finally:
        pm.unregister(plugin)
    assert "quebrado" not in registry.slugs and "procon" in registry.slugs
    assert "department quebrado of plugin civic-broken left out: form 'f'" in caplog.text
    assert result.exit_code == 1
    assert "civic-broken: quebrado: form 'f' is not a valid civic form" in result.stderr


def test_protocols_show_and_set_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    conversation = [
        "Maria 529.982.247-25", "1", "1", "iluminação", "Poste apagado há uma semana.",
        "Centro", "1", "1",
    ]  # fmt: skip
    played = runner.invoke(app, ["run", "--database-url", url], input="\n".join(conversation))
    year = utcnow().year
    protocol = f"CAC-{year}-000001"
    assert protocol in played.stdout
    shown = runner.invoke(app, ["protocols", "show", protocol.lower(), "--database-url", url])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["data"]["bairro"] == "Centro"
    changed = runner.invoke(
        app, ["protocols", "set-status", protocol, "in_progress", "--database-url", url]
    )
    assert changed.exit_code == 0
    # Told to the citizen it belongs to (the same CPF, from a new conversation)...
    asked = runner.invoke(
        app,
        ["run", "--database-url", url],
        input=f"Maria 529.982.247-25\nqual o status do protocolo {protocol}?\n",
    )
    assert "em análise pela equipe" in asked.stdout
    # ...and to nobody else.
    stranger = runner.invoke(
        app,
        ["run", "--database-url", url],
        input=f"João 111.444.777-35\nqual o status do protocolo {protocol}?\n",
    )
    assert "em análise" not in stranger.stdout and "entre os seus pedidos" in stranger.stdout
    bad = runner.invoke(app, ["protocols", "set-status", protocol, "done", "--database-url", url])
    assert bad.exit_code == 2 and "unknown status" in bad.stderr
    missing = runner.invoke(app, ["protocols", "show", "CAC-1999-000001", "--database-url", url])
    assert missing.exit_code == 1 and "no protocol" in missing.stderr


def test_protocol_numbers_are_unique_across_workers(storage: Storage) -> None:
    """Eight workers, each with its own connection, take numbers at the same time."""
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            with storage.transaction() as tx:
                number = tx.next_protocol_sequence("PROCON", 2026)
            with lock:
                taken.append(number)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(1, 201))
