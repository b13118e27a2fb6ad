"""The conversation engine: states, storage of every step, resuming, idempotency."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from civic import Answer, Department, Inbound, Topic, hookimpl
from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET


def test_whole_conversation_is_stored(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    answer = chat.send(MARIA)
    assert "Obrigado, Maria!" in answer
    assert "1. CAC" in answer and "2. PROCON" in answer
    assert chat.state == State.CHOOSING
    answer = chat.send("2")
    assert chat.state == State.DEPARTMENT and chat.last.department == "procon"
    assert "arrependimento" in answer.lower()
    answer = chat.send("2")
    assert "art. 49" in answer
    assert "Posso ajudar em algo mais?" in answer
    assert chat.state == State.OFFERING
    assert "de 0 a 10" in chat.send("não")
    assert chat.state == State.RATING
    assert "comentário" in chat.send("nota 9")
    assert "encerrado" in chat.send("Muito rápido, obrigada!")
    assert chat.state == State.CLOSED
    with storage.reading() as tx:
        (rating,) = tx.ratings()
        (conversation,) = tx.conversations()
        messages = tx.messages(conversation["id"])
    assert rating["score"] == 9 and rating["comment"] == "Muito rápido, obrigada!"
    assert rating["department"] == "procon"
    assert conversation["state"] == "closed" and conversation["closed_at"] is not None
    assert [m["direction"] for m in messages].count("in") == 6
    assert messages[0]["text"] == "Maria José dos Santos ***.982.247-**"
    assert messages[0]["author"] == "citizen"
    assert {m["author"] for m in messages if m["direction"] == "out"} == {"bot"}


def test_cpf_is_never_stored_in_clear(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.script("Maria José dos Santos 52998224725", "1", "1")
    found = []
    with storage.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                if any("52998224725" in str(value) or "982.247-25" in str(value) for value in row):
                    found.append((table.name, row))
    assert found == []  # the message log keeps the mask, not the digits
    with storage.reading() as tx:
        citizen = tx.citizen(1)
        first = tx.messages(1)[0]
    assert citizen is not None and citizen["cpf_masked"] == "***.982.247-**"
    assert first["text"] == "Maria José dos Santos ***.982.247-**"


def test_name_then_cpf_in_two_messages(engine: Engine) -> None:
    chat = Chat(engine)
    assert "nome completo seguido do seu CPF" in chat.send("Maria José dos Santos")
    assert "Obrigado, Maria!" in chat.send("CPF 529.982.247-25")
    assert chat.state == State.CHOOSING


def test_a_request_is_not_taken_for_a_name(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send("quero falar com o procon")
    assert "faltou o seu nome" in chat.send("529.982.247-25")


def test_returning_citizen_is_recognised(engine: Engine, storage: Storage) -> None:
    first = Chat(engine, "a")
    first.script(MARIA, "encerrar", "10", "não")
    assert first.state == State.CLOSED
    again = Chat(engine, "b")
    assert "de novo, Maria" in again.send("maria jose dos santos 52998224725")
    with storage.reading() as tx:
        # The citizen keeps the name first given; this conversation has the new spelling.
        assert tx.citizen(1)["name"] == "Maria José dos Santos"
        assert tx.conversation(again.last.conversation_id)["citizen_name"] == (
            "Maria Jose dos Santos"
        )
        assert tx.citizen(2) is None


def test_refusals_ask_again(engine: Engine) -> None:
    chat = Chat(engine)
    answer = chat.send("oi")
    assert "nome completo seguido do seu CPF" in answer
    assert "dígitos verificadores" in chat.send("Maria 529.982.247-24")
    assert "todos os dígitos iguais" in chat.send("Maria 111.111.111-11")
    assert chat.state == State.IDENTIFYING
    chat.send(MARIA)
    assert chat.state == State.CHOOSING


def test_resumes_after_restart(storage: Storage) -> None:
    first = Engine(storage, secret=SECRET)
    Chat(first, "555").script(MARIA, "procon")
    restarted = Engine(storage, secret=SECRET)  # a new process on the same database
    chat = Chat(restarted, "555")
    answer = chat.send("3")
    assert chat.last.department == "procon"
    assert "art. 26" in answer


def test_duplicate_channel_id_changes_nothing(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.send(MARIA, message_id="wamid.1")
    again = engine.handle(
        Inbound(channel="test", address=chat.address, text=MARIA, channel_message_id="wamid.1")
    )
    assert again.duplicate and again.replies == chat.last.replies  # the same, to re-send
    with storage.reading() as tx:
        assert tx.count_messages(direction="in") == 1


def test_new_message_after_closing_opens_a_new_conversation(
    engine: Engine, storage: Storage
) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "sair", "pular")
    assert chat.state == State.CLOSED
    first_id = chat.last.conversation_id
    chat.send("olá de novo")
    assert chat.state == State.IDENTIFYING
    assert chat.last.conversation_id != first_id


@pytest.mark.parametrize(
    ("message", "department"),
    [
        ("quero fazer uma reclamação de uma loja", "procon"),
        ("alistamento", "jsm"),
        ("PROCON", "procon"),
        ("3", "jsm"),
        ("qual o horário de funcionamento?", "cac"),
        ("reclamação sobre o alistamento", "jsm"),
    ],
)
def test_routes_by_number_name_and_keywords(engine: Engine, message: str, department: str) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    chat.send(message)
    assert chat.last.department == department


@pytest.mark.parametrize("message", ["9", "bom dia", "🙂", "quero saber uma coisa"])
def test_ambiguous_or_unknown_gets_the_menu(engine: Engine, message: str) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    answer = chat.send(message)
    assert chat.state == State.CHOOSING
    assert "1. CAC" in answer


def test_pinned_department_skips_the_menu(engine: Engine) -> None:
    chat = Chat(engine, pinned="jsm")
    answer = chat.send(MARIA)
    assert chat.state == State.DEPARTMENT and chat.last.department == "jsm"
    assert "Junta de Serviço Militar" in answer
    chat.script("2", "sim")
    assert chat.last.department == "jsm"  # "more help" goes back to the pinned one


def test_handover_waits_quietly_then_closes(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "1")
    assert "encaminhada" in chat.send("atendente")
    assert chat.state == State.HUMAN
    assert chat.send("meu problema é com o IPTU") == ""
    assert chat.state == State.HUMAN
    chat.send("encerrar")
    assert chat.state == State.RATING


@pytest.mark.parametrize(
    ("answer", "score"),
    [("10", 10), ("nota 9", 9), ("dez", 10), ("9/10", 9), ("nota: 8!", 8), ("0", 0)],
)
def test_ratings_as_people_type_them(
    engine: Engine, storage: Storage, answer: str, score: int
) -> None:
    Chat(engine).script(MARIA, "encerrar", answer, "não")
    with storage.reading() as tx:
        assert [r["score"] for r in tx.ratings()] == [score]


def test_refused_rating_is_asked_again_then_with_an_example(
    engine: Engine, storage: Storage
) -> None:
    """Unreadable answers are asked again, the third with an example; none records a
    refusal (the whole bound is tested in tests/test_survey_answers.py)."""
    chat = Chat(engine)
    chat.script(MARIA, "encerrar")
    assert "de 0 a 10" in chat.send("11")
    assert "mais de um número" in chat.send("7 ou 8")
    assert chat.state == State.RATING
    assert "por exemplo: 9" in chat.send("não sei")
    assert chat.state == State.RATING
    with storage.reading() as tx:
        assert tx.ratings() == []


# -- plugins inside conversations ---------------------------------------------------


class Library:
    """A third-party department plugin, as a city would install one."""

    __name__ = "library"

    @hookimpl
    def register_departments(self, register: Callable[[Department], None]) -> None:
        register(
            Department(
                slug="biblioteca",
                name="Biblioteca",
                description="Empréstimos e renovações",
                keywords=("livro", "emprestimo"),
                topics=(Topic("Renovar empréstimo", answer="Renovado por 7 dias."),),
                order=5,
            )
        )


class Broken:
    """A plugin whose department answer always raises."""

    __name__ = "broken"

    @hookimpl
    def department_message(self, department: Department, text: str) -> Answer:
        raise RuntimeError("boom")


def test_third_party_department_appears_in_menu(with_plugin: Callable[..., Engine]) -> None:
    engine = with_plugin(Library())
    chat = Chat(engine)
    assert "1. Biblioteca — Empréstimos e renovações" in chat.send(MARIA)
    assert "Renovado por 7 dias." in chat.script("quero renovar meu livro", "1")


def test_raising_plugin_does_not_break_the_conversation(
    with_plugin: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    engine = with_plugin(Broken())
    chat = Chat(engine)
    chat.script(MARIA, "procon")
    with caplog.at_level(logging.ERROR):
        answer = chat.send("2")
    # The broken plugin is skipped and the built-in topics still answer.
    assert "art. 49" in answer
    assert "plugin broken raised in hook department_message" in caplog.text
    assert chat.state == State.OFFERING


def test_a_person_without_a_cpf_can_still_reach_the_team(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send("oi")
    assert "encaminhada" in chat.send("quero falar com um atendente")
    assert chat.state == State.HUMAN


def test_thanks_after_closing_opens_no_new_conversation(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "encerrar", "10", "não")
    closed = chat.last.conversation_id
    assert "Por nada!" in chat.send("obrigado!")
    assert chat.last.conversation_id == closed and chat.state == State.CLOSED
    with storage.reading() as tx:
        assert len(tx.conversations()) == 1
        assert tx.messages(closed)[-2]["text"] == "obrigado!"
    chat.send("oi, preciso de outra coisa")
    assert chat.state == State.IDENTIFYING and chat.last.conversation_id != closed


def test_routing_knows_the_topics_words(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    chat.send("quero pedir conserto de iluminação na minha rua")
    assert chat.last.department == "cac"
