"""The first reply answers the citizen's greeting ("Bom dia!" to "bom dia", "Tudo bem,
obrigado por perguntar." to "tudo bem?") before asking for the name and CPF, whose
example in the prompt is a CPF civic accepts and obviously an example."""

from __future__ import annotations

import itertools

import pytest
from stdnum.br import cpf as stdnum_cpf

from civic import cpf
from civic.config import parse_config
from civic.engine import Engine, redacted
from civic.reading import read
from civic.states import State
from civic.storage import Storage
from civic.texts import Texts
from civic.values import Reply
from tests.chat import Chat
from tests.conftest import SECRET

WELCOME = "Atendimento ao cidadão — Casa do Cidadão."
HOW = "Tudo bem, obrigado por perguntar."


_addresses = itertools.count(5535900000000)


def first_reply(storage: Storage, text: str, **config: object) -> list[str]:
    """The replies to a new citizen's first message, in order."""
    engine = Engine(storage, secret=SECRET, config=parse_config(config))
    chat = Chat(engine, address=str(next(_addresses)))
    chat.send(text)
    assert chat.last is not None
    return [reply.text for reply in chat.last.replies]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("bom dia", "Bom dia!"),
        ("Bom dia!!", "Bom dia!"),
        ("boa tarde", "Boa tarde!"),
        ("BOA NOITE", "Boa noite!"),
        ("olá, boa noite", "Boa noite!"),
        ("oi gente", "Olá!"),  # the usual welcome
        ("Oi", "Olá!"),
        ("oi, tudo bem?", f"Olá! {HOW}"),
        ("Bom dia, tudo bem?", f"Bom dia! {HOW}"),
        ("Boa tarde! Tudo bom?", f"Boa tarde! {HOW}"),
        ("boa noite, como vai?", f"Boa noite! {HOW}"),
        ("tudo bem?", f"Olá! {HOW}"),
        ("olá tudo bem", f"Olá! {HOW}"),
    ],
)
def test_a_greeting_is_answered_in_kind(storage: Storage, text: str, answer: str) -> None:
    replies = first_reply(storage, text)
    assert replies[0] == f"{answer} {WELCOME}"
    assert "nome completo" in replies[-1] and "CPF" in replies[-1]  # then name and CPF


@pytest.mark.parametrize(
    "text", ["quero falar do IPTU", "está tudo bem com meu IPTU", "reclamação da loja"]
)
def test_no_greeting_gets_the_usual_welcome(storage: Storage, text: str) -> None:
    assert first_reply(storage, text)[0] == f"Olá! {WELCOME}"


def test_a_city_s_welcome_answers_a_plain_hello(storage: Storage) -> None:
    own = {"welcome": "Bem-vindo à central, {city}!"}
    assert first_reply(storage, "oi gente", texts=own)[0] == "Bem-vindo à central, Casa do Cidadão!"
    assert first_reply(storage, "oi, tudo bem?", texts=own)[0] == (
        f"Olá! {HOW} Bem-vindo à central, Casa do Cidadão!"
    )


def test_a_greeting_with_name_and_cpf_identifies_too(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    reply = chat.send("Bom dia! Maria José dos Santos 529.982.247-25")
    assert reply.startswith("Bom dia! ") and "Obrigado, Maria!" in reply
    assert chat.state == State.CHOOSING


def test_only_the_first_reply_answers_a_greeting(storage: Storage) -> None:
    chat = Chat(Engine(storage, secret=SECRET))
    chat.send("oi")
    assert "Bom dia!" not in chat.send("bom dia")


def test_a_city_s_welcome_is_kept_after_the_greeting(storage: Storage) -> None:
    own = "Olá! Você está falando com {city}."
    assert first_reply(storage, "bom dia", texts={"welcome": own})[0] == (
        "Bom dia! Olá! Você está falando com Casa do Cidadão."
    )
    greeted = first_reply(
        storage,
        "bom dia",
        texts={"welcome": own, "welcome_greeted": "Você está falando com {city}."},
    )
    assert greeted[0] == "Bom dia! Você está falando com Casa do Cidadão."


def test_the_greeting_words_are_the_catalogue_s(storage: Storage) -> None:
    replies = first_reply(
        storage,
        "buenos días",
        texts={
            "words.greeting_morning": ["bom dia", "buenos días"],
            "greeting_morning": "Bom dia!",
        },
    )
    assert replies[0] == f"Bom dia! {WELCOME}"


# -- the example CPF of the identification prompt ------------------------------------------


def test_the_example_cpf_is_valid_and_obviously_an_example() -> None:
    prompt = Texts()("identify_ask")
    (found,) = read(prompt).cpfs
    assert found.digits == cpf.EXAMPLE
    assert cpf.validate(found.digits) is None and stdnum_cpf.is_valid(found.digits)
    assert found.digits.startswith("123456789")  # the digits in order: nobody's by chance
    assert "por exemplo" in prompt and "123.456.789-09" in prompt
    assert read("Maria da Silva 123.456.789-09").cpf == cpf.EXAMPLE  # civic accepts it


def test_the_example_cpf_is_shown_a_citizen_s_is_masked(storage: Storage) -> None:
    assert "123.456.789-09" in first_reply(storage, "oi")[-1]
    reply = redacted(Reply("529.982.247-25 ou 123.456.789-09", scale=(0, 10)))
    assert reply.text == "***.982.247-** ou 123.456.789-09" and reply.scale == (0, 10)
    assert cpf.redact("123.456.789-09") == "***.456.789-**"  # only replies keep it
