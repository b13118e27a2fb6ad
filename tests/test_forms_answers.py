"""Forms people can answer: "não sei", short dates, short labels, leaving the
correction screen, and asking for a person in one's own words (the runner alone; the
conversation around it is in ``test_forms_conversation``)."""

from __future__ import annotations

import copy
import datetime as dt
import inspect

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from civic.forms import DONT_KNOW_WORDS, FormRunner, FormStep, says_dont_know
from civic.text import fold
from tests.test_forms import (
    COMPLAINT,
    EXPECTED,
    STOP,
    TEXTS,
    TYPED,
    fill,
    runner,
    say,
    text_of,
)

DONT_KNOW = TEXTS.words("dont_know")
#: How people say they do not know or have the answer (the brief's own list first).
SAYINGS = [
    "não sei",
    "nao sei",
    "Não sei.",
    "sei não",
    "não lembro",
    "não lembro não",
    "não possuo",
    "não tenho",
    "não tenho nota",
    "NÃO TENHO NOTA FISCAL",
    "não sei o cnpj",
    "eu não sei",
    "sei lá",
    "não faço ideia",
    "não me lembro",
    "esqueci",
    "nenhum",
]


def at(form: FormRunner, field: str, schema_typed: dict[str, str] | None = None) -> FormStep:
    """The form asking ``field``, every earlier field answered as in :data:`TYPED`."""
    step = fill(form, (schema_typed or TYPED) | {field: STOP})
    assert step.progress["field"] == field
    return step


# -- "não sei" --------------------------------------------------------------------------


@pytest.mark.parametrize("saying", SAYINGS)
def test_dont_know_skips_an_optional_field(saying: str) -> None:
    form = runner()
    step = say(form, at(form, "valor"), saying)
    assert step.progress["field"] == "quantidade"  # the next question
    assert "valor" not in step.progress["answers"]
    assert "valor" in step.progress["skipped"]
    assert step.replies[0].text.startswith(TEXTS("form_dont_know_skipped"))
    assert step.progress["failures"] == 0


def test_dont_know_stores_an_optional_field_s_default() -> None:
    schema = copy.deepcopy(COMPLAINT)
    schema["properties"]["valor"]["default"] = "0.00"
    form = runner(schema)
    step = say(form, at(form, "valor"), "não lembro")
    assert step.progress["answers"]["valor"] == "0.00"


@pytest.mark.parametrize("field", ["nome", "cpf", "tipo", "data", "quantidade", "urgente"])
@pytest.mark.parametrize("saying", ["não sei", "não tenho", "sei não", "não lembro não"])
def test_dont_know_on_a_required_field_says_what_is_needed(field: str, saying: str) -> None:
    form = runner()
    asked = at(form, field)
    step = say(form, asked, saying)
    text = step.replies[0].text
    assert step.status == "asking" and step.progress["field"] == field
    assert field not in step.progress["answers"]
    label = form.fields[field].label
    assert text.startswith(TEXTS("form_dont_know_required", label=label))
    assert TEXTS("form_dont_know_handover") in text  # how to go on: a person, or cancel
    assert text.endswith(asked.replies[0].text)  # then the question again
    assert step.progress["failures"] == 0  # an honest answer is no mistake
    accepted = say(form, step, TYPED[field])
    assert accepted.progress["answers"][field] == EXPECTED[field]


def test_after_dont_know_atendente_hands_over_even_on_a_free_text_question() -> None:
    form = runner()
    helped = say(form, form.start(), "não sei")
    handed = say(form, helped, "atendente")
    assert handed.status == "handover"
    # Before the offer, "atendente" may be someone's answer to a free-text question.
    assert say(form, form.start(), "atendente").progress["answers"]["nome"] == "atendente"


def test_the_field_s_own_hint_says_how_to_find_the_answer() -> None:
    schema = copy.deepcopy(COMPLAINT)
    schema["properties"]["cpf"]["x-civic-dont-know"] = "O CPF está no seu documento de identidade."
    form = runner(schema)
    text = say(form, at(form, "cpf"), "não lembro").replies[0].text
    assert "O CPF está no seu documento de identidade." in text


def test_without_people_no_person_is_offered() -> None:
    form = runner(humans=False)
    text = say(form, form.start(), "não sei").replies[0].text
    assert "atendente" not in text
    assert text.startswith(TEXTS("form_dont_know_required", label="Nome"))


@pytest.mark.parametrize(
    "answer",
    [
        "não tenho como provar, mas a loja prometeu trocar e não trocou",
        "Não sei se é a Loja 2",  # digits: an answer, not a shrug
        "Nãosei Comércio",
    ],
)
def test_a_sentence_beginning_like_dont_know_is_an_answer(answer: str) -> None:
    form = runner()
    step = say(form, form.start(), answer)
    assert step.progress["answers"]["nome"] == answer


def test_no_is_still_an_answer_to_a_yes_or_no_question() -> None:
    form = runner()
    step = say(form, at(form, "urgente"), "não")
    assert step.progress["answers"]["urgente"] is False
    # ...but "não sei" is not "não".
    assert "urgente" not in say(form, at(form, "urgente"), "não sei").progress["answers"]


def test_a_choice_labelled_dont_know_is_chosen() -> None:
    schema = copy.deepcopy(COMPLAINT)
    schema["properties"]["tipo"]["oneOf"].append({"const": "?", "title": "Não sei informar"})
    form = runner(schema)
    assert say(form, at(form, "tipo"), "não sei").progress["answers"]["tipo"] == "?"


@pytest.mark.parametrize(
    ("folded", "expected"),
    [
        ("nao sei", True),
        ("nao sei nao", True),
        ("nao tenho nota fiscal", True),
        ("nao sei o nome da loja", True),  # a phrase and four more words
        ("nao sei o nome da loja ainda", False),  # longer: an answer in its own right
        ("nao", True),
        ("nao gostei", False),  # a one-word phrase ("não") starts many answers
        ("nao tenho 2", False),
        ("eu nao sei", True),
        ("loja nao sei", False),
        ("", False),
    ],
)
def test_says_dont_know(folded: str, expected: bool) -> None:
    assert says_dont_know(folded, DONT_KNOW) is expected


def test_a_city_adds_its_own_way_of_saying_it() -> None:
    from civic.texts import Texts

    texts = Texts(overrides={"words.dont_know": [*TEXTS.catalog["words.dont_know"], "num sei"]})
    form = FormRunner("complaint", COMPLAINT, texts, runner().validator.format_checker)
    step = say(form, at(form, "valor"), "num sei")
    assert "valor" in step.progress["skipped"]


@st.composite
def dont_know_sayings(draw: st.DrawFn) -> str:
    """A phrase of ``words.dont_know`` in any case, with punctuation or accents lost,
    maybe followed by a few words, up to :data:`DONT_KNOW_WORDS` in all ("não sei não",
    "não tenho o número")."""
    phrase = draw(st.sampled_from(sorted(TEXTS.catalog["words.dont_know"])))
    if " " in phrase:
        room = max(0, DONT_KNOW_WORDS - len(phrase.split()))
        words = st.sampled_from(["não", "o", "número", "nota", "ainda", "dele"])
        phrase = " ".join([phrase, *draw(st.lists(words, max_size=room))])
    phrase = draw(st.sampled_from([phrase, phrase.upper(), phrase.capitalize(), fold(phrase)]))
    return phrase + draw(st.sampled_from(["", ".", "!", "...", " 🤷"]))


#: Built once: the form asking each of its fields (COMPLAINT asks "loja" for a product).
FORM = runner()
AT = {name: at(FORM, name) for name in COMPLAINT["properties"]}


@given(field=st.sampled_from(list(COMPLAINT["properties"])), saying=dont_know_sayings())
def test_dont_know_never_becomes_a_value(field: str, saying: str) -> None:
    form = FORM
    # "não" is an answer where it is an option's label (a yes-or-no question).
    assume(not any(fold(label) == fold(saying) for _, label in form.fields[field].options))
    step = say(form, AT[field], saying)
    assert field not in step.progress["answers"]
    if form.is_required(field, step.progress["answers"]):
        assert step.progress["field"] == field
    else:
        assert field in step.progress["skipped"]


# -- dates typed the short way ---------------------------------------------------------

PAST_ONLY = copy.deepcopy(COMPLAINT)
PAST_ONLY["properties"]["data"]["x-civic-not-future"] = True


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("20/11", "2026-11-20"),
        ("20-11", "2026-11-20"),
        ("ontem", "2026-11-28"),
        ("anteontem", "2026-11-27"),
        ("hoje", "2026-11-29"),
        ("dia 20", "2026-11-20"),
        ("20 de novembro", "2026-11-20"),
        ("20/12", "2025-12-20"),  # the field refuses future dates: last December
    ],
)
def test_short_date_is_understood_and_said_back(typed: str, stored: str) -> None:
    form = runner(PAST_ONLY)
    step = say(form, at(form, "data"), typed)
    assert step.progress["answers"]["data"] == stored
    shown = dt.date.fromisoformat(stored).strftime("%d/%m/%Y")
    assert step.replies[0].text.startswith(TEXTS("form_date_understood", date=shown))
    assert TEXTS("form_date_understood", date=shown) == f"Entendi {shown}."


PAST_FORM = runner(PAST_ONLY)
PAST_AT_DATE = at(PAST_FORM, "data")


@given(
    today=st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)),
    back=st.integers(0, 364),
    style=st.sampled_from(["%d/%m", "%d-%m", "%d.%m", "dia %d/%m"]),
)
def test_any_date_of_the_last_year_typed_short_is_stored_and_said_back(
    today: dt.date, back: int, style: str
) -> None:
    """In a field refusing future dates, every day of the 365 up to the message's date,
    typed without its year, is stored as that day and said back."""
    date = today - dt.timedelta(days=back)
    step = PAST_FORM.step(PAST_AT_DATE.progress, date.strftime(style), today=today)
    assert step.progress["answers"]["data"] == date.isoformat()
    assert step.replies[0].text.startswith(f"Entendi {date:%d/%m/%Y}.")


def test_a_whole_date_is_not_said_back() -> None:
    form = runner(PAST_ONLY)
    step = say(form, at(form, "data"), "20/11/2026")
    assert step.progress["answers"]["data"] == "2026-11-20"
    assert "Entendi" not in step.replies[0].text


def test_tomorrow_is_refused_by_a_field_refusing_future_dates() -> None:
    form = runner(PAST_ONLY)
    step = say(form, at(form, "data"), "amanhã")
    assert "data" not in step.progress["answers"]
    assert TEXTS("form_error_future_date", date="30/11/2026") in step.replies[0].text


@pytest.mark.parametrize(
    ("typed", "says"),
    [("20/11", "Faltou o ano. Envie a data completa, por exemplo 20/11/2026."), ("dia 20", "mês")],
)
def test_a_field_taking_any_date_asks_for_the_year(typed: str, says: str) -> None:
    form = runner()  # COMPLAINT's "data" takes future dates too: which year is "20/11"?
    step = say(form, at(form, "data"), typed)
    assert "data" not in step.progress["answers"] and says in step.replies[0].text
    step = say(form, step, "amanhã")  # a day named from today is never ambiguous
    assert step.progress["answers"]["data"] == "2026-11-30"


def test_the_date_comes_from_the_message_never_from_the_clock() -> None:
    form = runner(PAST_ONLY)
    asked = at(form, "data")
    for today, stored in [(dt.date(2027, 1, 1), "2026-12-31"), (dt.date(2028, 3, 1), "2028-02-29")]:
        step = form.step(asked.progress, "ontem", today=today)
        assert step.progress["answers"]["data"] == stored
    assert inspect.signature(FormRunner.step).parameters["today"].default is inspect._empty


# -- short labels ----------------------------------------------------------------------

QUESTIONS_ONLY = {
    "title": "Atendimento",
    "properties": {
        "motivo": {"title": "Qual é o motivo do atendimento?", "enum": ["A", "B"]},
        "data_compra": {"type": "string", "title": "Quando você comprou o produto na loja?"},
        "email": {"type": "string", "title": "E-mail"},
        "longo": {"type": "string", "title": "Texto sem pergunta mas longo demais para rótulo"},
        "rotulo": {"type": "string", "title": "Qual?", "x-civic-label": "Rótulo"},
    },
    "required": ["motivo", "data_compra", "email", "longo", "rotulo"],
}


def test_a_field_without_a_label_is_shown_short_never_by_its_question() -> None:
    form = runner(QUESTIONS_ONLY)
    assert [field.label for field in form.fields.values()] == [
        "Motivo",
        "Data compra",
        "E-mail",
        "Longo",
        "Rótulo",
    ]
    summary = fill(
        form, {"motivo": "1", "data_compra": "ontem", "email": "x", "longo": "y", "rotulo": "z"}
    )
    text = text_of(summary)
    assert "1. Motivo: A" in text and "2. Data compra: ontem" in text and "5. Rótulo: z" in text
    assert "?:" not in text
    asked = say(form, summary, "corrigir data compra")
    assert asked.progress["field"] == "data_compra"


def test_the_help_for_a_required_field_names_it_by_its_label() -> None:
    form = runner(QUESTIONS_ONLY)
    text = say(form, form.start(), "não sei").replies[0].text
    assert text.startswith(TEXTS("form_dont_know_required", label="Motivo"))


# -- the correction screen --------------------------------------------------------------


def test_the_correction_screen_says_how_to_leave_it() -> None:
    form = runner()
    which = say(form, fill(form, TYPED), "2")
    assert "0* para voltar ao resumo" in which.replies[0].text
    unknown = say(form, which, "corrigir o quê?")
    assert "de 1 a 9" in unknown.replies[0].text
    assert "0* para voltar ao resumo" in unknown.replies[0].text


@pytest.mark.parametrize("leave", ["0", "zero", "voltar", "Voltar ao resumo", "resumo"])
def test_leaving_the_correction_screen_shows_the_summary_unchanged(leave: str) -> None:
    form = runner()
    summary = fill(form, TYPED)
    back = say(form, say(form, summary, "2", "42"), leave)
    assert back.progress["stage"] == "summary"
    assert back.replies[0].text == summary.replies[0].text
    assert say(form, back, "1").data == EXPECTED


def test_cancelling_says_one_thing() -> None:
    form = runner()
    for step in (form.start(), fill(form, TYPED), say(form, fill(form, TYPED), "2")):
        cancelled = say(form, step, "cancelar")
        assert cancelled.status == "cancelled"
        assert [reply.text for reply in cancelled.replies] == [TEXTS("form_cancelled")]


# -- a person, in the citizen's words ---------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    ["atendente", "quero um atendente", "chama um atendente", "cadê o atendente?", "humano"],
)
@pytest.mark.parametrize("field", ["cpf", "tipo", "data", "urgente"])
def test_asking_for_a_person_where_no_text_is_an_answer(field: str, request_: str) -> None:
    form = runner()
    asked = at(form, field)
    handed = say(form, asked, request_)
    assert handed.status == "handover"
    assert handed.progress["answers"] == asked.progress["answers"]  # kept for the attendant


def test_asking_for_a_person_at_the_summary() -> None:
    form = runner()
    assert say(form, fill(form, TYPED), "quero falar com uma pessoa").status == "handover"
    assert say(runner(humans=False), fill(runner(humans=False), TYPED), "atendente").status == (
        "asking"
    )


def test_a_comment_about_an_attendant_is_an_answer() -> None:
    form = runner()
    step = say(form, form.start(), "a atendente foi ótima")
    assert step.progress["answers"]["nome"] == "a atendente foi ótima"


def test_the_sayings_are_in_the_catalogue() -> None:
    """Everything civic recognises here is a catalogue list a city can extend."""
    for key in ["words.dont_know", "words.date_yesterday", "words.month_11", "words.number_prefix"]:
        assert key in TEXTS.catalog
    assert {"nao sei", "sei nao", "nao lembro nao", "nao possuo", "nao tenho nota"} <= DONT_KNOW
