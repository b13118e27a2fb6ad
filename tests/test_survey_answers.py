"""The closing survey as people answer it: scores typed every way, other scales, emoji,
praise without a number, explicit refusals, the example after unreadable answers and
the bound that ends the survey, and comments declined in many words."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civic.config import parse_config
from civic.default_plugins.survey import read_score, score_rating
from civic.engine import Engine
from civic.states import State
from civic.storage import Storage
from civic.text import normalise
from civic.texts import Texts, override_problems
from civic.turn import UNREAD_AFTER_EXAMPLE
from tests.chat import MARIA, Chat
from tests.conftest import SECRET, make_storage
from tests.strategies import nasty_texts

TEXTS = Texts()
REASONS = {"out_of_range", "ambiguous", "decimal", "other_scale", "approval"}

# -- reading one answer ----------------------------------------------------------------

ON_0_10 = [
    ("10", 10),
    ("0", 0),
    ("nota 9", 9),
    ("dez", 10),
    ("Dez!", 10),
    ("eu dou nove", 9),
    ("um dez", 10),
    ("10/10", 10),
    ("9/10", 9),
    ("9 de 10", 9),
    ("nota: 8!", 8),
    ("９", 9),
    ("nota máxima", 10),
    ("Nota máxima!", 10),
    ("a máxima", 10),
    ("nota mil", 10),
    ("Nota mil!!", 10),
    ("💯", 10),
    ("💯💯💯", 10),
    ("nota 💯", 10),
    ("💯 atendimento excelente", 10),
    ("9 💯", 9),  # a number wins over the emoji
    ("👍 nota 9", 9),
    ("5 estrelas", "other_scale"),
    ("cinco estrelas", "other_scale"),
    ("⭐⭐⭐⭐⭐", "other_scale"),
    ("5 ⭐", "other_scale"),
    ("5/5", "other_scale"),
    ("100/100", "other_scale"),
    ("👍", "approval"),
    ("👍🏽", "approval"),
    ("👍👍", "approval"),
    ("ótimo", "approval"),
    ("Muito bom!", "approval"),
    ("nota 11", "out_of_range"),
    ("100%", "out_of_range"),
    ("-1", "out_of_range"),
    ("7 ou 8", "ambiguous"),
    ("9,5", "decimal"),
    ("não quero avaliar", "decline"),
    ("Prefiro não.", "decline"),
    ("pular", "decline"),
    ("não", "decline"),
    ("não sei", None),
    ("dez mil", None),
    ("mil vezes obrigado", None),
    ("10 reais", None),
    ("nota 1O", None),
    ("👎", None),
    ("ótimo atendimento, mas demorou", None),
    ("", None),
]
ON_1_5 = [
    ("5", 5),
    ("5 estrelas", 5),
    ("cinco estrelas", 5),
    ("⭐⭐⭐⭐", 4),
    ("⭐️⭐️⭐️", 3),  # with the emoji variation selector
    ("⭐", 1),
    ("⭐" * 6, "out_of_range"),
    ("nota máxima", 5),
    ("💯", 5),
    ("5/5", 5),
    ("10/10", "other_scale"),
    ("dez", "out_of_range"),
    ("0", "out_of_range"),
]


@pytest.mark.parametrize(("text", "expected"), ON_0_10)
def test_a_score_on_0_to_10(text: str, expected: int | str | None) -> None:
    assert read_score(text, 0, 10, TEXTS) == expected


@pytest.mark.parametrize(("text", "expected"), ON_1_5)
def test_a_score_on_1_to_5(text: str, expected: int | str | None) -> None:
    """Stars are the 1–5 scale: counted there, asked again on 0–10."""
    assert read_score(text, 1, 5, TEXTS) == expected


SCALES = st.sampled_from([(0, 10), (1, 5)])
ANY_TEXT = nasty_texts | st.text(st.characters(codec=None), max_size=60)
SCORE_LIKE = st.builds(
    "".join,
    st.lists(
        st.sampled_from(
            ["nota", " ", "10", "9", "-", "/", "5", ",", "dez", "mil", "máxima", "💯", "⭐",
             "👍", "estrelas", "de", "a", "100", "0", "!", "um", "não", "\u200b", "５"]
        ),
        max_size=8,
    ),
)  # fmt: skip


@given(text=ANY_TEXT | SCORE_LIKE, scale=SCALES)
def test_no_text_crashes_or_gives_a_score_outside_the_scale(
    text: str, scale: tuple[int, int]
) -> None:
    low, high = scale
    result = read_score(text, low, high, TEXTS)
    if isinstance(result, int):
        assert low <= result <= high
    else:
        assert result is None or result == "decline" or result in REASONS


@given(text=ANY_TEXT | SCORE_LIKE, scale=SCALES)
def test_the_hook_refuses_with_the_range(text: str, scale: tuple[int, int]) -> None:
    low, high = scale
    result = score_rating(text, low, high, TEXTS)
    if isinstance(result, str) and result != "decline":
        assert result.startswith("refuse:") and f"de {low} a {high}" in result


def test_a_huge_answer_is_read_in_time() -> None:
    assert read_score("9" * 250_000, 0, 10, TEXTS) == "out_of_range"
    assert read_score("nota 9 " + "x" * 250_000, 0, 10, TEXTS) == 9


def test_the_words_are_the_catalogue_s() -> None:
    """A city's [texts] changes what is read: its own word for the maximum, its own
    refusal."""
    overrides = {
        "words.score_max": ["nota máxima", "🏆"],
        "words.score_decline": ["não rola", "pular"],
    }
    assert override_problems(overrides) == []
    city = Texts(overrides=overrides)
    assert read_score("🏆", 0, 10, city) == 10
    assert read_score("nota mil", 0, 10, city) is None  # no longer in its list
    assert read_score("não rola", 0, 10, city) == "decline"
    assert read_score("não rola", 0, 10, TEXTS) is None


# -- in a conversation -----------------------------------------------------------------


def rating_chat(storage: Storage, **survey: object) -> Chat:
    """Maria at the score question (the city's ``[survey]`` settings, if any)."""
    chat = Chat(Engine(storage, secret=SECRET, config=parse_config({"survey": survey})))
    chat.script(MARIA, "encerrar")
    assert chat.state == State.RATING
    return chat


def scores(storage: Storage) -> list[tuple[int | None, str]]:
    with storage.reading() as tx:
        return [(r["score"], r["answers"]) for r in tx.ratings()]


@pytest.mark.parametrize("answer", ["5 estrelas", "⭐⭐⭐⭐⭐", "5/5", "👍", "ótimo"])
def test_another_scale_or_praise_is_asked_again_with_the_range(
    storage: Storage, answer: str
) -> None:
    chat = rating_chat(storage)
    reply = chat.send(answer)
    assert "de 0 a 10" in reply and chat.state == State.RATING
    assert chat.last is not None and chat.last.replies[-1].scale == (0, 10)
    assert scores(storage) == []
    assert "Obrigado pela nota" in chat.send("8")
    assert scores(storage) == [(8, '{"declined": false}')]


@pytest.mark.parametrize(("answer", "score"), [("nota máxima", 10), ("💯", 10), ("nota mil", 10)])
def test_the_maximum_in_words(storage: Storage, answer: str, score: int) -> None:
    chat = rating_chat(storage)
    assert "Obrigado pela nota" in chat.send(answer)
    assert [s for s, _ in scores(storage)] == [score]


def test_stars_on_a_1_to_5_scale(storage: Storage) -> None:
    chat = rating_chat(storage, scale="1-5")
    chat.send("⭐⭐⭐⭐")
    assert [s for s, _ in scores(storage)] == [4]


def test_the_third_unreadable_answer_gets_an_example_then_the_survey_ends(
    storage: Storage,
) -> None:
    """Documented bound: the ``max_attempts``-th unreadable answer (3 by default) is
    answered with an example; after it, two more unreadable answers close the
    conversation politely, recording no rating (nobody refused)."""
    chat = rating_chat(storage)
    assert "Não entendi a nota" in chat.send("hmm")
    assert "de 0 a 10" in chat.send("sei lá")
    third = chat.send("foi bom")
    assert "Responda só com um número de 0 a 10, por exemplo: 9" in third
    assert chat.state == State.RATING
    assert "por exemplo: 9" in chat.send("👍")  # two more: the first is asked again
    assert chat.state == State.RATING and UNREAD_AFTER_EXAMPLE == 2
    assert "Não consegui entender a nota" in chat.send("???")
    assert chat.state == State.CLOSED
    assert scores(storage) == []


def test_a_score_after_the_example_counts(storage: Storage) -> None:
    chat = rating_chat(storage)
    assert "por exemplo: 9" in chat.script("a", "b", "c")
    chat.send("7")
    assert [s for s, _ in scores(storage)] == [7]


def test_max_attempts_moves_the_example(storage: Storage) -> None:
    chat = rating_chat(storage, max_attempts=1)
    assert "por exemplo: 9" in chat.send("hmm")
    chat.script("a", "b")
    assert chat.state == State.CLOSED and scores(storage) == []


def test_on_1_to_5_the_example_is_in_the_range(storage: Storage) -> None:
    chat = rating_chat(storage, scale="1-5")
    assert "de 1 a 5, por exemplo: 4" in chat.script("a", "b", "c")


@pytest.mark.parametrize("unreadable", [0, 3])
@pytest.mark.parametrize("refusal", ["não quero avaliar", "pular", "prefiro não"])
def test_only_an_explicit_refusal_records_one(
    storage: Storage, unreadable: int, refusal: str
) -> None:
    chat = rating_chat(storage)
    chat.script(*["hmm"] * unreadable)
    assert "Tudo bem" in chat.send(refusal)
    assert chat.state == State.CLOSED
    assert scores(storage) == [(None, '{"declined": true}')]


DECLINED_COMMENTS = [
    "não quero comentar",
    "Sem comentários.",
    "nada a declarar",
    "tá bom assim",
    "Está bom assim!",
    "nenhum",
    "Não, obrigado!",
    "não, sem comentários, obrigada",
    "nada não",
    "obrigada",
    "tudo certo, valeu",
]


@pytest.mark.parametrize("answer", DECLINED_COMMENTS)
def test_declining_the_comment(storage: Storage, answer: str) -> None:
    chat = rating_chat(storage)
    chat.send("9")
    assert "Agradecemos o seu contato e a sua avaliação" in chat.send(answer)
    with storage.reading() as tx:
        assert [r["comment"] for r in tx.ratings()] == [None]


@pytest.mark.parametrize(
    "answer",
    [
        "Nada a declarar sobre a atendente, mas a fila demorou",
        "nenhum problema, foi ótimo",
        "não gostei da demora",
    ],
)
def test_a_comment_that_starts_like_a_refusal_is_kept(storage: Storage, answer: str) -> None:
    chat = rating_chat(storage)
    chat.script("9", answer)
    with storage.reading() as tx:
        assert [r["comment"] for r in tx.ratings()] == [answer]


# -- any text, any number of times -----------------------------------------------------


@pytest.fixture(scope="module")
def survey_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine for every example (each one a new citizen address)."""
    storage = make_storage("sqlite", tmp_path_factory.mktemp("survey"))
    yield Engine(storage, secret=SECRET)
    storage.close()


_addresses = itertools.count(5535900000000)


@settings(max_examples=30, deadline=None)
@given(answers=st.lists(ANY_TEXT | SCORE_LIKE, min_size=1, max_size=7))
def test_no_answers_record_a_score_outside_the_scale_or_loop(
    survey_engine: Engine, answers: list[str]
) -> None:
    chat = Chat(survey_engine, address=str(next(_addresses)))
    chat.script(MARIA, "encerrar")
    for answer in answers:
        if chat.state != State.RATING:
            break
        chat.send(answer)
        assert chat.last is not None and chat.last.replies  # always an answer
    assert chat.last is not None
    with survey_engine.storage.reading() as tx:
        mine = [r for r in tx.ratings() if r["conversation_id"] == chat.last.conversation_id]
    assert all(r["score"] is None or 0 <= r["score"] <= 10 for r in mine)
    said = [answer for answer in answers if normalise(answer).strip()]
    if len(said) >= 3 + UNREAD_AFTER_EXAMPLE:  # the bound: never still asking the score
        assert chat.state != State.RATING or mine
