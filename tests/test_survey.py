"""The closing survey: offer more help, score, the city's extra questions, comment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic.config import load_config, parse_config
from civic.default_plugins.survey import read_score
from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "civic.toml"


def test_gov_br_dimensions_are_asked_after_the_score(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET, config=load_config(EXAMPLE)))
    chat.script(MARIA, "encerrar")
    assert "as informações foram claras" in chat.send("nota 9")
    assert "no mínimo 1" in chat.send("0")
    assert "foi fácil" in chat.send("5")
    chat.send("4")
    assert "Seu pedido foi resolvido?" in chat.send("pular")
    assert "comentário" in chat.send("sim")
    chat.send("Gostei muito")
    assert chat.state == State.CLOSED
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert rating["score"] == 9 and rating["comment"] == "Gostei muito"
    assert json.loads(rating["answers"]) == {
        "clareza": 5,
        "facilidade": 4,
        "resolveu": True,
        "declined": False,
    }
    # ... and civic report counts them, per question.
    from civic.report import ReportScope, build_report

    report = build_report(storage, ReportScope(), config=load_config(EXAMPLE))
    figures = report.total.questions or {}
    assert figures["clareza"] == {
        "answered": 1, "mean": 5.0, "counts": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    }  # fmt: skip
    assert figures["tempo"]["answered"] == 0  # skipped
    assert figures["resolveu"]["counts"] == {"true": 1, "false": 0}


def test_cancelling_the_extra_questions_keeps_the_score(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET, config=load_config(EXAMPLE)))
    chat.script(MARIA, "encerrar", "10", "5")
    assert "comentário" in chat.send("cancelar")
    chat.send("não")
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert rating["score"] == 10 and rating["comment"] is None
    assert json.loads(rating["answers"]) == {"clareza": 5, "declined": False}


def test_broken_survey_questions_are_a_config_error() -> None:
    from civic.config import ConfigError

    with pytest.raises(ConfigError, match=r"survey\.questions"):
        parse_config({"survey": {"questions": {"title": "x", "properties": {"a": {}}}}})


@pytest.mark.parametrize("answer", ["não quero avaliar", "prefiro não", "pular"])
def test_declining_is_recorded(storage: Storage, answer: str) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.script(MARIA, "encerrar")
    assert "Tudo bem" in chat.send(answer)
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert rating["score"] is None and json.loads(rating["answers"]) == {"declined": True}


def test_more_help_then_another_department(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.script(MARIA, "procon", "2")
    assert chat.state == State.OFFERING
    assert "alistamento" in chat.send("quero saber do alistamento").lower()
    assert chat.last.department == "jsm"


WORDS = ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez"]


@given(
    score=st.integers(0, 10),
    template=st.sampled_from(["{n}", "nota {n}", "{n}/10", "nota: {n}!", "{n} de 10", "Nota {w}"]),
)
def test_every_usual_way_of_typing_a_score_is_read(score: int, template: str) -> None:
    assert read_score(template.format(n=score, w=WORDS[score]), 0, 10) == score


@given(score=st.integers(11, 10_000) | st.integers(-100, -1))
def test_out_of_range_is_never_a_score(score: int) -> None:
    assert read_score(str(score), 0, 10) in ("out_of_range", "ambiguous")


def test_the_score_counts_even_if_the_citizen_never_comments(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.script(MARIA, "encerrar", "10")
    assert chat.state == State.RATING  # still waiting for the optional comment
    with storage.reading() as tx:
        assert [r["score"] for r in tx.ratings()] == [10]


def test_yes_to_the_comment_question_waits_for_the_comment(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.script(MARIA, "encerrar", "9")
    assert "Pode escrever" in chat.send("sim")
    chat.send("Demorou um pouco, mas resolveram.")
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert rating["comment"] == "Demorou um pouco, mas resolveram."


@pytest.mark.parametrize(
    ("command", "state"), [("menu", "choosing_department"), ("atendente", "waiting_human")]
)
def test_menu_or_a_person_instead_of_a_score(storage: Storage, command: str, state: str) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.script(MARIA, "encerrar")
    chat.send(command)
    assert chat.state == state
    with storage.reading() as tx:
        assert tx.ratings() == []


def test_a_command_is_not_taken_for_a_comment(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.script(MARIA, "encerrar", "10", "menu")
    assert chat.state == State.CLOSED
    with storage.reading() as tx:
        assert tx.ratings()[0]["comment"] is None


@pytest.mark.parametrize(
    "sentence",
    [
        "foi uma ótima experiência",
        "as duas atendentes foram ótimas",
        "nota 1O",
        "dez mil",
        "10 reais",
        "nove e meio",
    ],
)
def test_numbers_that_are_not_a_score_are_not_read_as_one(sentence: str) -> None:
    assert read_score(sentence, 0, 10) is None


def test_extra_questions_take_number_words_and_offer_no_person(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET, config=load_config(EXAMPLE)))
    chat.script(MARIA, "encerrar", "10")
    assert "foi fácil" in chat.send("cinco")
    assert "número inteiro, por exemplo 3" in chat.send("muito")
    third = chat.script("0", "0")
    assert "no mínimo 1" in third and "atendente" not in third
