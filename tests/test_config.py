"""The city's configuration: civic.toml, its schema, and what it changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic.cli import app
from civic.config import ConfigError, load_config, parse_config
from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

HOURS = {
    "hours": {
        "mon": ["08:00-12:00", "13:00-17:00"],
        "fri": ["08:00-12:00"],
        "holidays": ["2026-12-25"],
    }
}


def test_no_file_means_defaults() -> None:
    config = load_config(None)
    assert config.departments is None and config.hours.always_open
    assert (config.survey.scale_min, config.survey.scale_max) == (0, 10)


def test_example_is_valid() -> None:
    config = load_config(ROOT / "examples" / "civic.toml")
    assert config.departments == ("cac", "procon", "jsm")
    assert config.for_department("jsm").settings["late_fine"] == "R$ 4,21"
    assert config.hours_of("jsm").week.keys() == {"tue", "thu"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"citty": "X"}, "civic.toml: (top level): Additional properties are not allowed"),
        ({"enabled": ["PROCON"]}, "civic.toml: enabled.0: 'PROCON' does not match"),
        ({"survey": {"scale": "0-100"}}, "civic.toml: survey.scale: '0-100' is not one of"),
        ({"hours": {"mon": ["17:00-08:00"]}}, "hours.mon[0]: '17:00-08:00' ends before it starts"),
        ({"hours": {"holidays": ["25/12/2026"]}}, "hours.holidays[0]: '25/12/2026' is not a date"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"texts": {"welcome": 3}}, "texts.welcome: a text is expected"),
    ],
)
def test_problems_name_file_key_and_reason(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert any(line.startswith(problem) or problem in line for line in error.value.problems)


def test_config_check_command(tmp_path: Path) -> None:
    good = runner.invoke(app, ["config", "check", str(ROOT / "examples" / "civic.toml")])
    assert good.exit_code == 0 and "OK" in good.stdout
    broken = tmp_path / "civic.toml"
    broken.write_text('city = "X"\n[hours]\nmon = ["8h-17h"]\n', encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: hours.mon.0: '8h-17h' does not match" in result.stderr
    broken.write_text("city = \n", encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(broken)])
    assert result.exit_code == 1 and "not valid TOML" in result.stderr
    missing = runner.invoke(app, ["config", "check", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 1 and "file not found" in missing.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('enabled = ["procon", "ouvidoria"]\n', encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(unknown)])
    assert result.exit_code == 1
    assert "enabled: department 'ouvidoria' is not installed" in result.stderr


def test_run_refuses_an_invalid_config(tmp_path: Path) -> None:
    broken = tmp_path / "civic.toml"
    broken.write_text('enabled = "procon"\n', encoding="utf-8")
    result = runner.invoke(
        app,
        ["run", "--config", str(broken), "--database-url", f"sqlite:///{tmp_path / 'c.db'}"],
        input="oi\n",
    )
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr and "enabled" in result.stderr


def test_hours() -> None:
    hours = parse_config(HOURS).hours
    monday_morning = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)  # 08:00 in Brazil
    assert hours.is_open(monday_morning)
    assert not hours.is_open(monday_morning.replace(hour=15, minute=30))  # 12:30 lunch
    christmas = dt.datetime(2026, 12, 25, 13, 0, tzinfo=dt.UTC)  # a Friday
    assert not hours.is_open(christmas)
    assert hours.next_opening(christmas) == dt.datetime(
        2026, 12, 28, 8, 0, tzinfo=christmas.astimezone(hours_zone()).tzinfo
    )
    assert hours.describe() == (
        "às segundas, das 8h às 12h e das 13h às 17h; às sextas, das 8h às 12h"
    )


def hours_zone() -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo("America/Sao_Paulo")


def test_out_of_hours_handover_is_honest(storage: Storage) -> None:
    saturday = dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC)
    engine = Engine(storage, secret=SECRET, config=parse_config(HOURS), clock=lambda: saturday)
    chat = Chat(engine)
    chat.script(MARIA, "1")
    answer = chat.send("atendente")
    assert chat.state == State.HUMAN
    assert "fora desse horário" in answer and "30/11/2026 às 8h" in answer
    assert "às segundas, das 8h às 12h e das 13h às 17h" in answer


def test_texts_can_be_overridden(storage: Storage) -> None:
    config = parse_config(
        {"city": "Prefeitura de Extrema", "texts": {"welcome": "Bem-vindo à {city}!"}}
    )
    chat = Chat(Engine(storage, secret=SECRET, config=config))
    assert chat.send("oi").startswith("Bem-vindo à Prefeitura de Extrema!")


def test_one_to_five_scale(storage: Storage) -> None:
    config = parse_config({"survey": {"scale": "1-5", "max_attempts": 2}})
    chat = Chat(Engine(storage, secret=SECRET, config=config))
    assert "de 1 a 5" in chat.script(MARIA, "encerrar")
    assert "de 1 a 5" in chat.send("9")
    chat.script("5", "não")
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert (rating["score"], rating["scale_min"], rating["scale_max"]) == (5, 1, 5)


def test_a_city_extends_the_words_civic_recognises(storage: Storage) -> None:
    """``[texts]`` holds word lists too: here "acabou" closes and "beleza" says yes."""
    config = parse_config(
        {"texts": {"words.close": ["encerrar", "Acabou!"], "words.yes": ["sim", "beleza"]}}
    )
    chat = Chat(Engine(storage, secret=SECRET, config=config))
    chat.script(MARIA, "1")
    chat.send("acabou")
    assert chat.state == State.RATING


@pytest.mark.parametrize(
    ("texts", "problem"),
    [
        ({"words.yes": "sim"}, 'texts.words.yes: a list of words is expected, like ["sim", "s"]'),
        ({"words.yes": [" "]}, "texts.words.yes: the list of words is empty"),
        ({"words.sim": ["sim"]}, "texts.words.sim: unknown text key"),
        ({"welcome": ["oi"]}, "texts.welcome: a text is expected"),
        ({"welcome": "Oi {nome}"}, "texts.welcome: unknown placeholder {nome} (allowed: city)"),
    ],
)
def test_text_overrides_are_checked(texts: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"texts": texts})
    assert [line.removeprefix("civic.toml: ") for line in error.value.problems] == [problem]


def test_an_unknown_department_text_stops_the_engine(storage: Storage) -> None:
    """A plugin's key is checked once the plugins are known: a typo is an operator's error,
    not a silently ignored override."""
    config = parse_config({"texts": {"procon.no_such_text": "x"}})
    with pytest.raises(ConfigError) as error:
        Engine(storage, secret=SECRET, config=config)
    assert error.value.problems == ["texts.procon.no_such_text: unknown text key"]


def test_a_city_renames_departments_and_rewords_form_questions(storage: Storage) -> None:
    """What a department registers (its name, greeting, form questions) has catalogue
    keys too: ``<slug>.name``, ``<slug>.greeting``, ``<slug>.forms.<form>.<field>``."""
    config = parse_config(
        {
            "texts": {
                "cac.name": "Central de Atendimento",
                "cac.forms.solicitacao.assunto": "Qual é o assunto?",
            }
        }
    )
    engine = Engine(storage, secret=SECRET, config=config)
    chat = Chat(engine)
    menu = chat.script(MARIA)
    assert "1. Central de Atendimento" in menu and "1. CAC" not in menu
    chat.send("1")
    assert "Qual é o assunto?" in chat.send("quero fazer uma solicitação")
    procon = engine.registry.get("procon")
    assert procon is not None and procon.name == "PROCON"  # the others keep theirs


def test_department_keys_are_known_to_config_check(tmp_path: Path) -> None:
    city = tmp_path / "civic.toml"
    city.write_text('[texts]\n"procon.name" = "Procon Municipal"\n', encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(city)])
    assert result.exit_code == 0, result.stderr
    city.write_text('[texts]\n"procon.nome" = "Procon Municipal"\n', encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(city)])
    assert result.exit_code == 1 and "texts.procon.nome: unknown text key" in result.stderr
