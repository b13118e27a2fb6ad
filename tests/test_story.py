"""A citizen who tells what happened is taken to the form; one who asks gets the answer.

PROCON's information topics (CDC arts. 26, 27, 49, 18 §1) declare ``then_form``: the
law's answer is said either way, and a story goes on to the complaint, pre-filled.
"""

from __future__ import annotations

import pytest

from civic.engine import Engine
from civic.states import State
from tests.chat import MARIA, Chat

STORIES = [
    "comprei uma geladeira na loja Casa Boa e ela parou de funcionar depois de 2 meses",
    "a tv que comprei estragou com uma semana de uso",
    "comprei pela internet um celular e quero desistir da compra",
    "mandei o notebook para o conserto faz dois meses e ninguem devolve",
]
QUESTIONS = [
    "qual o prazo para reclamar de defeito?",
    "quanto tempo tenho pra devolver um produto comprado pela internet",
    "como funciona o direito de arrependimento",
    "posso desistir de uma compra feita pelo telefone",
    "defeito",
]


@pytest.mark.parametrize("story", STORIES)
def test_a_story_goes_on_to_the_complaint(engine: Engine, story: str) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "2")
    answer = chat.send(story)
    assert chat.state == State.FORM
    assert "Código de Defesa do Consumidor" in answer  # the law is still said
    assert 'digite "cancelar"' in answer
    assert "Relato: " + story[:20] in answer


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_question_gets_the_answer_and_the_offer_of_more_help(
    engine: Engine, question: str
) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "2")
    answer = chat.send(question)
    assert chat.state == State.OFFERING
    assert "Código de Defesa do Consumidor" in answer


def test_cancelling_the_form_after_a_story_sends_nothing(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "2", STORIES[0])
    assert "Nada foi enviado" in chat.send("cancelar")
    assert chat.state != State.FORM


def test_after_an_answer_the_department_s_own_topic_goes_on_there(engine: Engine) -> None:
    """The Junta says to schedule a visit for a second copy; "agendar atendimento" at
    "Posso ajudar em algo mais?" is the Junta's scheduling, not the CAC's front desk."""
    chat = Chat(engine)
    answer = chat.script(MARIA, "3", "perdi meu certificado de reservista")
    assert "Agendar atendimento" in answer and chat.state == State.OFFERING
    chat.send("agendar atendimento")
    assert chat.last is not None and chat.last.department == "jsm"
    assert chat.state == State.FORM


def test_after_an_answer_another_department_s_subject_still_routes(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "1", "qual o horário de funcionamento?")
    assert chat.state == State.OFFERING
    chat.send("quero reclamar da loja que nao entregou meu sofa")
    assert chat.last is not None and chat.last.department == "procon"
