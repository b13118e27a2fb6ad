"""The record of processing operations (LGPD art. 37): each department declares what it
does with personal data (:class:`civic.Processing`), ``civic privacy register`` prints
it with the core's own operations and the city's periods, and the privacy notice links
to where the city publishes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civic import Department, Processing, departments, privacy
from civic.cli import app
from civic.config import Config, PrivacyConfig, parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage
from civic.values import ContractError

runner = CliRunner()
PROCESSING: dict[str, Any] = {
    "purpose": "Emprestar livros",
    "legal_basis": "LGPD art. 7º, III",
    "data": ("nome", "CPF"),
    "retention": "um ano",
}


def register_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["privacy", "register", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.output)
    return found


def test_the_core_and_every_builtin_department_declare_their_processing() -> None:
    record = register_json()
    operations = {op["department"] or op["activity"]: op for op in record["operations"]}
    core = [op["activity"] for op in record["operations"] if op["department"] is None]
    assert core == [p.activity for p in privacy.CORE_PROCESSING]
    assert {"cac", "procon", "jsm"} <= set(operations)
    for slug in ("cac", "procon", "jsm"):
        entry = operations[slug]
        assert entry["declared"] and "art. 7" in entry["legal_basis"]
        assert "CPF" in entry["data"] and entry["purpose"] and entry["retention"]
    assert operations["procon"]["sharing"]  # the supplier is notified
    assert record["controller"] == "Casa do Cidadão"


def test_the_register_shows_the_citys_periods(tmp_path: Path) -> None:
    config = tmp_path / "civic.toml"
    config.write_text(
        'city = "Prefeitura de Lavras"\n'
        "[privacy]\n"
        'contact = "dpo@lavras.mg.gov.br"\n'
        'register_url = "https://lavras.mg.gov.br/lgpd/registro"\n'
        "[retention]\nmessages_days = 180\n"
        "[departments.procon.retention]\nsubmissions_days = 1825\n",
        encoding="utf-8",
    )
    record = register_json("--config", str(config))
    assert record["controller"] == "Prefeitura de Lavras"
    assert record["register_url"] == "https://lavras.mg.gov.br/lgpd/registro"
    periods = {op["department"]: op["configured_retention"] for op in record["operations"]}
    assert periods["procon"] == {
        "messages_days": 180,
        "submissions_days": 1825,
        "ratings_days": None,
    }
    assert periods["cac"]["submissions_days"] is None
    text = runner.invoke(app, ["privacy", "register", "--config", str(config)]).output
    assert text.startswith("# Registro das operações de tratamento")
    assert "## PROCON" in text and "- Encarregado (contato): dpo@lavras.mg.gov.br" in text
    assert "protocolos: 1825 dias" in text and "avaliações: sem prazo (mantidos)" in text


def test_only_enabled_departments_are_in_the_register(tmp_path: Path) -> None:
    config = tmp_path / "civic.toml"
    config.write_text('enabled = ["procon"]\n', encoding="utf-8")
    record = register_json("--config", str(config))
    assert [op["department"] for op in record["operations"] if op["department"]] == ["procon"]


def test_a_department_that_declares_nothing_is_said_so() -> None:
    undeclared = Department(slug="biblioteca", name="Biblioteca")
    declared = Department(slug="museu", name="Museu", processing=Processing(**PROCESSING))
    record = privacy.record(Config(), [undeclared, declared])  # type: ignore[arg-type]
    entries = {op["department"]: op for op in record["operations"]}
    assert entries["biblioteca"]["declared"] is False
    assert entries["museu"]["activity"] == "Museu" and entries["museu"]["data"] == ["nome", "CPF"]
    assert "não declarou" in privacy.markdown(record)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"purpose": ""}, "purpose must not be empty"),
        ({"legal_basis": 7}, "legal_basis must be a str"),
        ({"data": "nome"}, "data must be a tuple of words, not the str 'nome'"),
        ({"data": ()}, "data must name at least one"),
        ({"retention": " "}, "retention must not be empty"),
    ],
)
def test_a_wrong_declaration_is_refused_when_built(change: dict[str, Any], said: str) -> None:
    with pytest.raises(ContractError, match=said):
        Processing(**{**PROCESSING, **change})


def test_a_department_takes_a_processing_or_none() -> None:
    with pytest.raises(ContractError, match=r"Department 'museu': processing must be a Proc"):
        Department(slug="museu", name="Museu", processing=PROCESSING)  # type: ignore[arg-type]
    assert Department(slug="museu", name="Museu").processing is None


def test_every_installed_department_declares_one() -> None:
    """A built-in department without its record would leave the register incomplete."""
    for department in departments.collect(load_plugins()):
        assert department.processing is not None, department.slug


def test_the_privacy_notice_links_to_the_published_register(storage: Storage) -> None:
    url = "https://lavras.mg.gov.br/lgpd/registro"
    linked = Engine(
        storage,
        secret=b"test-secret",
        config=Config(privacy=PrivacyConfig(register_url=url)),
    ).privacy_notice()
    assert linked.startswith("Aviso de privacidade") and url in linked
    plain = Engine(storage, secret=b"test-secret", config=Config()).privacy_notice()
    assert url not in plain and "por quanto tempo" not in plain
    assert parse_config({"privacy": {"register_url": url}}).privacy.register_url == url
