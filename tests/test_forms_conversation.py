"""Forms inside a conversation: a person in the citizen's own words, leaving a form
("encerrar", "menu", "cancelar") with one clear message, "não sei", short dates judged
by the message's own moment in the city's time zone, and the correction screen."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from civic import staff
from civic.config import parse_config
from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from civic.texts import Texts
from tests.chat import MARIA, Chat
from tests.conftest import SECRET
from tests.test_procon import COMPLAINT

TEXTS = Texts()
#: Sunday 29/11/2026, 15:00 in São Paulo.
NOW = dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC)


def in_procon_form(engine: Engine, now: dt.datetime = NOW) -> Chat:
    """A citizen in the PROCON complaint, asked the supplier's name."""
    engine.clock = lambda: now
    chat = Chat(engine)
    chat.script(MARIA, "procon")
    assert "nome da loja" in chat.send("1")
    assert chat.state == State.FORM
    return chat


def answer_up_to(chat: Chat, position: int) -> str:
    """Answer :data:`~tests.test_procon.COMPLAINT` up to (not including) ``position``."""
    reply = ""
    for answer, _ in COMPLAINT[:position]:
        reply = chat.send(answer)
    return reply


def held_answers(engine: Engine, chat: Chat) -> dict[str, object]:
    assert chat.last is not None
    info, _ = staff.history(engine, chat.last.conversation_id)
    held = info["held_form"]
    assert isinstance(held, dict)
    return held


# -- a person, in the citizen's own words ------------------------------------------------

ASKING_FOR_A_PERSON = [
    "atendente",
    "Atendente, por favor",
    "quero falar com uma pessoa",
    "quero falar com um atendente por favor",
    "preciso falar com um atendente",
    "posso falar com alguém?",
    "tem alguém aí?",
    "me passa pra um humano",
    "queria falar com um humano",
    "não quero falar com robô",
    "pode me passar para uma pessoa?",
    "quero ser atendido por uma pessoa",
    "quero um atendente",
    "me transfere para um atendente",
    "chama um atendente",
    "quero atendimento humano",
    "cadê o atendente?",
    "prefiro falar com uma pessoa",
]


@pytest.mark.parametrize("request_", ASKING_FOR_A_PERSON)
def test_asking_for_a_person_inside_a_form_keeps_the_answers(engine: Engine, request_: str) -> None:
    """Even at a free-text question, where "the shop's name" could be anything."""
    chat = in_procon_form(engine)
    answer_up_to(chat, 3)  # supplier, document, contact: asked the product (free text)
    chat.send(request_)
    assert chat.state == State.HUMAN
    assert held_answers(engine, chat) == {
        "fornecedor": "Magazine Exemplo",
        "fornecedor_documento": "12ABC34501DE35",
        "fornecedor_contato": "www.magazineexemplo.com.br",
    }


@pytest.mark.parametrize(
    "request_", ["quero um atendente", "chama um atendente", "cadê o atendente?", "humano"]
)
def test_short_requests_for_a_person_where_no_text_is_an_answer(
    engine: Engine, request_: str
) -> None:
    """At a question with choices (the kind of problem), no text is a plausible answer,
    so shorter requests count too."""
    chat = in_procon_form(engine)
    answer_up_to(chat, 4)
    reply = chat.send(request_)
    assert chat.state == State.HUMAN
    assert reply.count("equipe") == 1  # told once, not by the form and then the queue
    assert held_answers(engine, chat)["produto"] == "Geladeira frost free"


# -- leaving a form -----------------------------------------------------------------------


@pytest.mark.parametrize("word", sorted(TEXTS.catalog["words.close"]))
def test_closing_inside_a_form_says_nothing_was_sent_then_asks_the_score(
    engine: Engine, storage: Storage, word: str
) -> None:
    chat = in_procon_form(engine)
    answer_up_to(chat, 2)
    reply = chat.send(word)
    assert chat.state == State.RATING
    assert [r.text for r in chat.last.replies] == [  # type: ignore[union-attr]
        TEXTS("form_left"),
        TEXTS("rating_question", min=0, max=10),
    ]
    assert "nada foi enviado" in reply
    assert "comentário" in chat.send("9")  # the survey goes on as usual
    with storage.reading() as tx:
        assert tx.submission("PROCON-2026-000001") is None


def test_menu_inside_a_form_says_nothing_was_sent(engine: Engine, storage: Storage) -> None:
    chat = in_procon_form(engine)
    answer_up_to(chat, 2)
    reply = chat.send("menu")
    assert reply.startswith(TEXTS("form_left")) and "1. CAC" in reply
    assert chat.state == State.CHOOSING
    with storage.reading() as tx:
        assert tx.submission("PROCON-2026-000001") is None


@pytest.mark.parametrize("where", ["question", "summary", "correction"])
def test_cancelling_sends_one_message(engine: Engine, storage: Storage, where: str) -> None:
    chat = in_procon_form(engine)
    if where == "question":
        answer_up_to(chat, 5)
    else:
        assert "Confira suas respostas" in answer_up_to(chat, len(COMPLAINT))
    if where == "correction":
        chat.send("2")
    chat.send("3" if where == "summary" else "cancelar")
    assert chat.last is not None
    assert len(chat.last.replies) == 1
    reply = chat.last.replies[0]
    assert reply.text == TEXTS("form_cancelled_topics")
    assert "Nada foi enviado" in reply.text
    assert reply.choices and "reclamação" in reply.choices[0].label  # the topics
    assert chat.state == State.DEPARTMENT
    with storage.reading() as tx:
        assert tx.submission("PROCON-2026-000001") is None


# -- "não sei" ------------------------------------------------------------------------------


def test_dont_know_skips_optional_questions_and_explains_required_ones(
    engine: Engine, storage: Storage
) -> None:
    chat = in_procon_form(engine)
    chat.send("Magazine Exemplo")
    reply = chat.send("não sei")  # the supplier's CNPJ: optional
    assert reply.startswith(TEXTS("form_dont_know_skipped"))
    assert "endereço, o site ou o telefone" in reply
    reply = chat.send("não sei o endereço")  # the supplier's contact: required
    assert reply.startswith(TEXTS("form_dont_know_required", label="Contato do fornecedor"))
    assert "*atendente*" in reply and chat.state == State.FORM
    chat.send("www.magazineexemplo.com.br")
    chat.send("Geladeira")
    chat.send("1")
    assert "Em que data foi a compra" in chat.send("não tenho nota")
    assert "valor pago" in chat.send("não lembro não")
    assert "procurou o fornecedor" in chat.send("sei não")
    chat.send("não")  # a yes-or-no question: "não" is its answer
    for answer in ["25/09/2026", "20/11/2026", COMPLAINT[12][0], "troca do produto"]:
        chat.send(answer)
    summary = chat.send("Extrema")
    assert "Data da compra: (não informado)" in summary
    assert "PROCON-2026-000001" in chat.send("1")
    with storage.reading() as tx:
        data = json.loads(tx.submission("PROCON-2026-000001")["data"])
    assert {"fornecedor_documento", "numero_pedido", "data_compra", "valor"}.isdisjoint(data)
    assert data["contatou_fornecedor"] is False


def test_after_dont_know_a_person_keeps_the_answers(engine: Engine) -> None:
    chat = in_procon_form(engine)
    answer_up_to(chat, 2)
    chat.send("não sei")
    chat.send("atendente")
    assert chat.state == State.HUMAN
    assert held_answers(engine, chat)["fornecedor"] == "Magazine Exemplo"


# -- short dates, from the message's moment in the city's time zone ---------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("hoje", "Entendi 29/11/2026."),
        ("ontem", "Entendi 28/11/2026."),
        ("30/11", "Entendi 30/11/2025."),  # not yet this year: last year's
        ("amanhã", "A data 30/11/2026 ainda não chegou."),
    ],
)
def test_short_dates_are_read_in_the_city_s_time_zone(
    storage: Storage, typed: str, says: str
) -> None:
    """At 02:30 UTC on 30/11/2026 it is already 30/11 in São Paulo but still 29/11 in
    Rio Branco (UTC-5), the city's time zone here."""
    config = parse_config({"timezone": "America/Rio_Branco"})
    engine = Engine(storage, secret=SECRET, config=config)
    chat = in_procon_form(engine, dt.datetime(2026, 11, 30, 2, 30, tzinfo=dt.UTC))
    answer_up_to(chat, 6)  # asked the purchase date
    assert chat.send(typed).startswith(says)


@pytest.mark.parametrize(
    ("typed", "understood"),
    [
        ("20/11", "20/11/2026"),
        ("20-11", "20/11/2026"),
        ("ontem", "28/11/2026"),
        ("anteontem", "27/11/2026"),
        ("hoje", "29/11/2026"),
        ("dia 20", "20/11/2026"),
        ("20 de novembro", "20/11/2026"),
        ("20/12", "20/12/2025"),
    ],
)
def test_a_short_date_is_confirmed_back(
    engine: Engine, storage: Storage, typed: str, understood: str
) -> None:
    chat = in_procon_form(engine)
    answer_up_to(chat, 6)
    reply = chat.send(typed)
    assert reply.startswith(f"Entendi {understood}.") and "valor pago" in reply


# -- the correction screen -----------------------------------------------------------------


def test_the_correction_screen_says_how_to_leave_and_leaving_works(engine: Engine) -> None:
    chat = in_procon_form(engine)
    summary = answer_up_to(chat, len(COMPLAINT))
    assert "ou *0* para voltar ao resumo" in chat.send("2")
    assert "ou *0* para voltar ao resumo" in chat.send("não sei qual")
    assert chat.send("0") == summary
    assert chat.state == State.FORM
    assert "PROCON-2026-000001" in chat.send("1")


@pytest.mark.parametrize("leaving", ["menu", "Menu principal", "voltar ao menu", "ir pro menu"])
def test_leaving_a_form_for_the_menu_in_the_citizen_s_words(engine: Engine, leaving: str) -> None:
    chat = in_procon_form(engine)
    answer_up_to(chat, 3)  # at a free-text question, where "voltar ao menu" is no product
    assert "nada foi enviado" in chat.send(leaving)
    assert chat.state == State.CHOOSING


@pytest.mark.parametrize(
    "about", ["a atendente foi ótima", "o atendente não me respondeu", "atendente da loja"]
)
def test_a_sentence_about_an_attendant_is_an_answer(engine: Engine, about: str) -> None:
    chat = in_procon_form(engine)
    answer_up_to(chat, 3)
    chat.send(about)
    assert chat.state == State.FORM


def test_a_department_s_name_inside_a_form_goes_there(engine: Engine) -> None:
    """A citizen who typed "procon" at the CAC's subject question wants the PROCON: the
    form is left (nothing sent) and the PROCON entered."""
    chat = Chat(engine)
    chat.script(MARIA, "1", "quero fazer uma solicitação")
    assert chat.state == State.FORM
    answer = chat.send("procon")
    assert "nada foi enviado" in answer
    assert chat.last is not None and chat.last.department == "procon"
    assert chat.state == State.DEPARTMENT
