"""The state machine made explicit: the global words' order, the transitions table, the
typed context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic import staff, states
from civic.config import Config
from civic.context import Context, FormProgress, SurveyProgress
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.states import TRANSITIONS, State
from civic.storage import Storage
from civic.words import GLOBAL_WORDS, wants_person
from tests.chat import MARIA, Chat
from tests.conftest import SECRET
from tests.test_identity import Ombudsman
from tests.test_procon import COMPLAINT, submit

PROTOCOL_ASK = "status do protocolo CAC-2026-000001"


def test_the_global_words_are_one_ordered_table() -> None:
    assert [entry.name for entry in GLOBAL_WORDS] == ["protocol", "close", "person", "menu"]


def in_form(engine: Engine) -> Chat:
    chat = Chat(engine)
    chat.script(MARIA, "2", "quero fazer uma reclamação")
    assert chat.state == State.FORM
    return chat


def test_a_protocol_number_beats_close(engine: Engine) -> None:
    """ "encerrar PROCON-2026-000001" is not a plain "encerrar": the number is asked."""
    chat = Chat(engine)
    chat.send(MARIA)
    answer = chat.send("PROCON-2026-000001")
    assert "Não encontrei o protocolo PROCON-2026-000001" in answer
    assert chat.state == State.CHOOSING


def test_close_beats_person_and_menu(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    chat.send("encerrar")
    assert chat.state == State.RATING


def test_person_beats_menu_and_the_form(engine: Engine) -> None:
    chat = in_form(engine)
    chat.send("quero falar com uma pessoa")
    assert chat.state == State.HUMAN


def test_close_beats_the_form(engine: Engine) -> None:
    chat = in_form(engine)
    chat.send("encerrar")
    assert chat.state == State.RATING


def test_menu_leaves_a_form_saying_nothing_was_sent(engine: Engine) -> None:
    chat = in_form(engine)
    assert "nada foi enviado" in chat.send("menu")
    assert chat.state == State.CHOOSING


def test_a_form_keeps_its_own_voltar(engine: Engine) -> None:
    chat = in_form(engine)
    chat.send("voltar")
    assert chat.state == State.FORM


def test_a_protocol_number_inside_a_form_is_an_answer(engine: Engine) -> None:
    chat = in_form(engine)
    chat.send(PROTOCOL_ASK)
    assert chat.state == State.FORM


def test_the_survey_reads_its_own_answers(engine: Engine, storage: Storage) -> None:
    """In the survey "encerrar", "menu" (once a score was refused) and "não" are answers,
    not commands."""
    chat = Chat(engine)
    chat.script(MARIA, "encerrar", "11")
    chat.send("menu")
    assert chat.state == State.RATING


def test_menu_is_no_command_before_identification(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send("oi")
    assert "nome completo" in chat.send("menu")
    assert chat.state == State.IDENTIFYING


def test_a_person_is_no_command_while_with_the_team(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "atendente")
    assert chat.send("atendente") == ""  # already waiting: told once
    assert chat.state == State.HUMAN


@pytest.mark.parametrize(
    ("folded", "expected"),
    [
        ("atendente", True),
        ("quero falar com uma pessoa", True),
        ("tem alguem ai", True),
        ("quero falar com o procon", False),
        ("a loja tratou mal uma pessoa da minha familia", False),
        ("preciso de um atendimento sobre iptu", False),
        ("", False),
    ],
)
def test_asking_for_a_person(folded: str, expected: bool) -> None:
    assert wants_person(folded) is expected


# -- the transitions table allows only what the engine does ----------------------------


@pytest.fixture
def moves(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[tuple[State, State]]]:
    seen: set[tuple[State, State]] = set()
    original = states.check_transition

    def record(old: State, new: State) -> None:
        original(old, new)
        if old != new:
            seen.add((old, new))

    import civic.staff
    import civic.turn

    monkeypatch.setattr(civic.turn, "check_transition", record)
    monkeypatch.setattr(civic.staff, "check_transition", record)
    yield seen


def scripts(engine: Engine) -> None:
    """Conversations that make every move of the table at least once."""
    one = Chat(engine, "1")
    one.script("oi", "atendente", "menu", MARIA, "encerrar", "10", "não")
    two = Chat(engine, "2")
    two.script("oi", "encerrar")
    three = Chat(engine, "3")
    three.script(MARIA, "2", "quero fazer uma reclamação", "menu", "2", "2")  # offering
    three.script("sim", "procon", "quero fazer uma reclamação", "atendente", "menu", "encerrar")
    three.script("menu", "atendente")
    conversation = three.last.conversation_id
    staff.take(engine, conversation, "Ana")
    staff.release(engine, conversation, "Ana")
    staff.take(engine, conversation, "Ana")
    staff.transfer(engine, conversation, "cac", agent="Ana")
    staff.take(engine, conversation, "Bia")
    staff.close(engine, conversation, "Bia")
    three.send("atendente")
    staff.close(engine, conversation, "Bia")
    three.script("10", "não")
    four = Chat(engine, "4")
    four.script(MARIA, "2", "encerrar")
    four.script("menu", "procon", "2", "procon", "menu", "2", "encerrar", "não")
    five = Chat(engine, "5")
    five.script(MARIA, "2", "quero fazer uma reclamação", "encerrar", "atendente")
    five.script("encerrar", "não")
    six = Chat(engine, "6")
    six.script(MARIA, "2", "2", "atendente", "encerrar")
    six.script("menu", "2", "atendente")
    six.script("atendente")
    staff.take(engine, six.last.conversation_id, "Ana")
    six.send("encerrar")
    seven = Chat(engine, "7")
    seven.script(MARIA, "2", "quero fazer uma reclamação", "cancelar")
    seven.script("quero fazer uma reclamação", "atendente")
    seven.script("procon", "2", "quero fazer uma reclamação")
    eight = Chat(engine, "8")
    eight.script(MARIA, "procon", "1")
    submit(eight, COMPLAINT)  # the form submitted: offering further help
    eight.send("não")
    unidentified = Chat(engine, "10")
    unidentified.script("oi", "humano")
    staff.close(engine, unidentified.last.conversation_id, "Bia")
    unidentified.send("menu")  # rating -> identifying
    pinned = Chat(engine, "9", pinned="procon")
    pinned.script(MARIA, "atendente", "menu", "encerrar", "menu")
    assert pinned.state == State.DEPARTMENT


def when_needed_scripts(storage: Storage) -> None:
    """A city that asks the CPF only where a department needs it."""
    pm = load_plugins()
    plugin = Ombudsman()
    pm.register(plugin)
    try:
        engine = Engine(storage, secret=SECRET, manager=pm, config=Config(identify="when_needed"))
        chat = Chat(engine, "anonymous")
        chat.script("oi", "procon")  # choosing -> identifying
        assert chat.state == State.IDENTIFYING
        other = Chat(engine, "ombudsman")
        other.script("oi", "ouvidoria", "1")
        assert other.state == State.OFFERING
        other.send("quero fazer uma reclamação de uma loja")  # offering -> identifying
        assert other.state == State.IDENTIFYING
    finally:
        pm.unregister(plugin)


def test_every_transition_in_the_table_is_one_the_engine_makes(
    engine: Engine, storage: Storage, moves: set[tuple[State, State]]
) -> None:
    scripts(engine)
    when_needed_scripts(storage)
    table = {(old, new) for old, targets in TRANSITIONS.items() for new in targets if old != new}
    never_made = table - moves
    # Expiry closes any open state; it is tested in test_outbox.py.
    never_made -= {(old, State.CLOSED) for old in State}
    assert sorted((old.value, new.value) for old, new in never_made) == []


def test_an_illegal_move_raises() -> None:
    with pytest.raises(states.IllegalTransition):
        states.check_transition(State.CLOSED, State.CHOOSING)
    with pytest.raises(states.IllegalTransition):
        states.check_transition(State.AGENT, State.CHOOSING)


# -- the typed context ------------------------------------------------------------------

contexts = st.builds(
    Context,
    pending_name=st.none() | st.text(max_size=20),
    pending_cpf=st.none() | st.text(max_size=20),
    after_identify=st.none() | st.sampled_from(["cac", "procon"]),
    form=st.none() | st.builds(FormProgress, st.text(min_size=1, max_size=10)),
    held_form=st.none(),
    survey=st.none() | st.builds(SurveyProgress, st.sampled_from(["score", "comment"])),
    protocols=st.lists(st.text(max_size=12), max_size=3),
    waiting_told=st.booleans(),
    identified=st.booleans(),
)


@given(contexts)
def test_a_context_survives_storage(context: Context) -> None:
    assert Context.load(context.dump()) == context


@given(st.text() | st.just('{"form": 3, "survey": {"step": "x", "attempts": "y"}}'))
def test_any_stored_context_loads(raw: str) -> None:
    loaded = Context.load(raw)
    assert isinstance(loaded, Context)
    assert loaded.survey is None or loaded.survey.step in ("score", "questions", "comment")
