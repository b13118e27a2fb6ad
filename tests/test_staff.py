"""The team's side of a conversation: queue, take, reply, transfer, release, close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from civic import hookimpl, staff
from civic.config import Config, Hours, parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.report import ReportScope, build_report
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

START = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in Brasília


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(storage: Storage, clock: Clock) -> Engine:
    return Engine(storage, secret=SECRET, manager=load_plugins(), clock=clock)


def waiting(engine: Engine, *, message: str = "atendente") -> Chat:
    """A citizen identified at the menu who asked for a person."""
    chat = Chat(engine)
    chat.send(MARIA)
    chat.send(message)
    assert chat.state == State.HUMAN
    return chat


def outbox_texts(engine: Engine, chat: Chat) -> list[tuple[str, str | None, str]]:
    return [(d.author, d.agent, d.reply.text) for d in engine.pending("test", chat.address)]


def test_the_whole_staff_path(engine: Engine, storage: Storage, clock: Clock) -> None:
    chat = waiting(engine, message="quero falar com uma pessoa")
    conversation = chat.last.conversation_id
    (entry,) = staff.queue_entries(engine, state="waiting_human")
    assert entry.id == conversation and entry.citizen_name == "Maria José dos Santos"
    clock.advance(minutes=5)
    staff.take(engine, conversation, "Ana")
    assert staff.queue_entries(engine, state="waiting_human") == []
    assert chat.send("alô? tem alguém?") == ""  # stored for Ana, never answered by the bot
    clock.advance(minutes=2)
    staff.reply(engine, conversation, "Ana", "Bom dia, Maria! Vou passar para o PROCON.")
    staff.transfer(engine, conversation, "procon", agent="Ana", note="Reclamação de loja")
    (entry,) = staff.queue_entries(engine, department="procon", state="waiting_human")
    assert entry.agent is None
    clock.advance(minutes=10)
    staff.take(engine, conversation, "Bia")
    clock.advance(minutes=3)
    staff.reply(engine, conversation, "Bia", "Olá, sou a Bia do PROCON.")
    staff.close(engine, conversation, "Bia")
    assert [(a, n) for a, n, _ in outbox_texts(engine, chat)] == [
        ("agent", "Ana"),
        ("system", None),
        ("agent", "Bia"),
        ("bot", None),
    ]
    assert "de 0 a 10" in outbox_texts(engine, chat)[-1][2]
    chat.send("10")
    chat.send("não")
    assert chat.state == State.CLOSED
    with storage.reading() as tx:
        (rating,) = tx.ratings()
        row = tx.conversation(conversation)
        kinds = [e["kind"] for e in tx.events(conversation)]
        messages = tx.messages(conversation)
    assert rating["agent"] == "Bia" and rating["score"] == 10
    assert kinds == ["handed_over", "taken", "transferred", "taken", "resolved"]
    assert [m["author_name"] for m in messages if m["author"] == "agent"] == ["Ana", "Bia"]
    assert "alô? tem alguém?" in [m["text"] for m in messages]
    # Bia's first response counts from the transfer into PROCON's queue: 10 minutes
    # waiting, then 3 with her; the bot's instant replies do not count.
    assert row["agent_first_response_at"] - row["handed_over_at"] == dt.timedelta(minutes=13)
    report = build_report(storage, ReportScope(by="agent"))
    bia = next(group for group in report.groups if group.key == "Bia")
    assert bia.indicators.median_first_response_seconds == 780
    assert bia.indicators.mean_score == 10


@pytest.mark.parametrize(
    "message",
    [
        "quero falar com uma pessoa",
        "tem alguém aí?",
        "Tem alguem ai",
        "atendente",
        "me passa pra um atendente por favor",
        "quero conversar com um humano",
        "posso falar com algum funcionário?",
    ],
)
def test_asking_for_a_person_in_ones_own_words(engine: Engine, message: str) -> None:
    waiting(engine, message=message)


def test_a_complaint_mentioning_a_person_is_not_a_hand_over(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "2")
    chat.send("a loja tratou mal uma pessoa da minha família e não trocou o produto")
    assert chat.state != State.HUMAN


def test_asking_for_a_person_inside_a_form_keeps_the_answers(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "2")
    chat.send("quero fazer uma reclamação")
    assert chat.state == State.FORM
    chat.send("1")  # the kind of problem
    chat.send("Loja Exemplo")
    chat.send("tem alguém aí?")
    assert chat.state == State.HUMAN
    info, _ = staff.history(engine, chat.last.conversation_id)
    assert "Loja Exemplo" in str(info["held_form"])


def test_the_waiting_citizen_is_told_once(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    assert "encaminhada" in chat.send("atendente")
    for text in ("oi?", "ainda estou aqui", "obrigado"):
        assert chat.send(text) == ""
        assert chat.state == State.HUMAN
    with storage.reading() as tx:
        texts = [m["text"] for m in tx.messages(chat.last.conversation_id)]
    assert texts[-3:] == ["oi?", "ainda estou aqui", "obrigado"]


def test_out_of_hours_the_citizen_is_told_the_hours(storage: Storage, clock: Clock) -> None:
    nine_to_five = Hours(week={"mon": ((dt.time(9), dt.time(17)),)})
    engine = Engine(
        storage, secret=SECRET, manager=load_plugins(), clock=clock,
        config=Config(hours=nine_to_five),
    )  # fmt: skip
    clock.now = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)  # 20:00 in Brasília
    chat = Chat(engine)
    chat.send(MARIA)
    answer = chat.send("atendente")
    assert "às segundas, das 9h às 17h" in answer and "07/12/2026 às 9h" in answer


def test_staff_actions_refuse_what_cannot_be_done(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    conversation = chat.last.conversation_id
    with pytest.raises(staff.StaffError, match="not waiting for a person"):
        staff.take(engine, conversation, "Ana")
    with pytest.raises(staff.StaffError, match="with the bot"):
        staff.reply(engine, conversation, "Ana", "oi")
    chat.send("atendente")
    staff.take(engine, conversation, "Ana")
    with pytest.raises(staff.StaffError, match="is with Ana"):
        staff.take(engine, conversation, "Bia")
    with pytest.raises(staff.StaffError, match="is with Ana"):
        staff.reply(engine, conversation, "Bia", "oi")
    with pytest.raises(staff.StaffError, match="unknown department"):
        staff.transfer(engine, conversation, "nowhere", agent="Ana")
    with pytest.raises(staff.StaffError, match="empty"):
        staff.reply(engine, conversation, "Ana", "   ")
    with pytest.raises(staff.StaffError, match="name is empty"):
        staff.take(engine, conversation, "  ")
    with pytest.raises(staff.NotFound):
        staff.take(engine, 9999, "Ana")
    with pytest.raises(staff.StaffError, match="unknown state"):
        staff.queue_entries(engine, state="sleeping")


def test_release_puts_it_back_in_the_queue(engine: Engine) -> None:
    chat = waiting(engine)
    conversation = chat.last.conversation_id
    staff.take(engine, conversation, "Ana")
    staff.release(engine, conversation, "Ana")
    (entry,) = staff.queue_entries(engine, state="waiting_human")
    assert entry.id == conversation and entry.agent is None
    staff.take(engine, conversation, "Bia")


def test_replying_to_a_waiting_conversation_takes_it(engine: Engine) -> None:
    chat = waiting(engine)
    staff.reply(engine, chat.last.conversation_id, "Ana", "Olá!")
    (entry,) = staff.queue_entries(engine, agent="Ana")
    assert entry.state == "with_agent"


def test_the_citizen_can_leave_the_queue(engine: Engine) -> None:
    chat = waiting(engine)
    assert "Com qual setor" in chat.send("menu")
    assert chat.state == State.CHOOSING


class Recorder:
    """Counts lifecycle hook calls."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def conversation_handed_over(self, conversation) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("handed_over", conversation.state))

    @hookimpl
    def conversation_taken(self, conversation, agent: str) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("taken", agent))

    @hookimpl
    def conversation_transferred(self, source, target, note) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("transferred", (source, target, note)))

    @hookimpl
    def conversation_released(self, agent: str) -> None:
        self.calls.append(("released", agent))

    @hookimpl
    def conversation_resolved(self, conversation, agent: str) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("resolved", (conversation.state, agent)))


class Broken:
    """Raises in every lifecycle hook, after the commit."""

    __name__ = "broken"

    @hookimpl
    def conversation_handed_over(self) -> None:
        raise RuntimeError("the team's pager is down")

    @hookimpl
    def conversation_taken(self) -> None:
        raise RuntimeError("the team's pager is down")


def test_lifecycle_hooks_run_after_commit_and_survive_a_broken_plugin(
    with_plugin: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    engine = with_plugin(Broken(), recorder)
    chat = waiting(engine)
    conversation = chat.last.conversation_id
    staff.take(engine, conversation, "Ana")
    staff.release(engine, conversation, "Ana")
    staff.take(engine, conversation, "Ana")
    staff.transfer(engine, conversation, "procon", agent="Ana", note="loja")
    staff.take(engine, conversation, "Bia")
    staff.close(engine, conversation, "Bia")
    assert recorder.calls == [
        ("handed_over", "waiting_human"),
        ("taken", "Ana"),
        ("released", "Ana"),
        ("taken", "Ana"),
        ("transferred", (None, "procon", "loja")),
        ("taken", "Bia"),
        ("resolved", ("rating", "Bia")),
    ]
    assert "plugin broken raised in hook conversation_taken" in caplog.text


def test_rating_after_the_bot_path_records_no_attendant(engine: Engine, storage: Storage) -> None:
    Chat(engine).script(MARIA, "encerrar", "9", "não")
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert rating["agent"] is None


def test_conversation_config_validates_expiry_and_identify() -> None:
    config = parse_config(
        {"identify": "when_needed", "expiry": {"after_hours": 6, "team_after_hours": 48}}
    )
    assert config.identify == "when_needed"
    assert config.expiry.after == dt.timedelta(hours=6)
    assert config.expiry.team_after == dt.timedelta(hours=48)


# -- what a fresh-eyes review found -------------------------------------------------


@pytest.mark.parametrize("word", ["menu", "voltar", "inicio"])
def test_menu_words_with_an_attendant_are_for_the_attendant(engine: Engine, word: str) -> None:
    chat = waiting(engine)
    staff.take(engine, chat.last.conversation_id, "Bia")
    assert chat.send(word) == ""
    assert chat.state == State.AGENT


def test_menu_in_the_survey_before_identification_asks_who_the_citizen_is(
    engine: Engine,
) -> None:
    chat = Chat(engine)
    chat.script("oi", "humano")
    staff.close(engine, chat.last.conversation_id, "Bia")
    assert "nome completo" in chat.send("menu")
    assert chat.state == State.IDENTIFYING


def test_a_citizen_may_identify_while_waiting(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.script("oi", "atendente")
    assert "Obrigado, Marta!" in chat.send("Marta Alves 529.982.247-25")
    assert chat.state == State.HUMAN
    conversation = chat.last.conversation_id
    staff.take(engine, conversation, "Ana")
    assert staff.reveal_cpf(engine, conversation, "Ana", "cadastro") == "52998224725"


def test_a_message_id_of_another_address_is_refused(engine: Engine) -> None:
    from civic.engine import InvalidInbound
    from civic.values import Inbound

    Chat(engine, "A").send(MARIA, message_id="m1")
    with pytest.raises(InvalidInbound, match="another address"):
        engine.handle(Inbound(channel="test", address="B", text="oi", channel_message_id="m1"))


def test_only_the_attendant_who_has_it_transfers_or_releases(engine: Engine) -> None:
    chat = waiting(engine)
    conversation = chat.last.conversation_id
    staff.take(engine, conversation, "Ana")
    with pytest.raises(staff.StaffError, match="is with Ana"):
        staff.transfer(engine, conversation, "procon", agent="Bia")
    with pytest.raises(staff.StaffError, match="is with Ana"):
        staff.release(engine, conversation, "Bia")
    staff.transfer(engine, conversation, "PROCON", agent="Ana", note="CPF 529.982.247-25")
    _, items = staff.history(engine, conversation)
    (transferred,) = [item for item in items if item.kind == "transferred"]
    assert "529.982.247-25" not in transferred.text


def test_the_survey_after_an_attendant_waits_from_the_close(engine: Engine, clock: Clock) -> None:
    chat = waiting(engine)
    conversation = chat.last.conversation_id
    clock.advance(hours=5)  # a long queue
    staff.take(engine, conversation, "Ana")
    staff.close(engine, conversation, "Ana")
    assert staff.expire(engine) == []
    clock.advance(hours=3)
    assert staff.expire(engine) == [conversation]


def test_praise_in_the_survey_is_a_score_and_a_comment(engine: Engine, storage: Storage) -> None:
    chat = waiting(engine)
    staff.take(engine, chat.last.conversation_id, "Ana")
    staff.close(engine, chat.last.conversation_id, "Ana")
    chat.send("nota 10 pro atendente")
    chat.send("a atendente foi ótima")
    assert chat.state == State.CLOSED
    with storage.reading() as tx:
        (rating,) = tx.ratings()
    assert (rating["score"], rating["comment"], rating["agent"]) == (
        10,
        "a atendente foi ótima",
        "Ana",
    )


def test_a_phone_number_in_a_form_is_kept_for_the_team(engine: Engine, storage: Storage) -> None:
    from civic.turn import split_secrets

    schema = {"properties": {"telefone": {"format": "phone"}, "documento": {}}}
    kept, secret = split_secrets({"telefone": "35999990000", "documento": "52998224725"}, schema)
    assert kept == {"telefone": "35999990000", "documento": "***.982.247-**"}
    assert secret == {"documento": "52998224725"}
    # a CPF typed at the phone question (or a phone that passes the CPF check digits,
    # as one in a hundred does) is kept encrypted, never in clear
    kept, secret = split_secrets({"telefone": "48922607203"}, schema)
    assert kept == {"telefone": "***.226.072-**"} and secret == {"telefone": "48922607203"}


def test_a_turn_that_fails_keeps_the_message_and_apologises(
    engine: Engine, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = Chat(engine)
    chat.send(MARIA)

    def broken(self: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("civic.turn.Turn.choose", broken)
    assert "problema técnico" in chat.send("2")
    assert chat.state == State.CHOOSING
    with storage.reading() as tx:
        assert tx.messages(chat.last.conversation_id)[-2]["text"] == "2"
