"""The outbox: every outbound message stored with its status; retries re-send, never lose."""

from __future__ import annotations

import datetime as dt

import pytest

from civic import staff
from civic.config import Config, ExpiryConfig
from civic.engine import Engine, InvalidInbound
from civic.plugins import load_plugins
from civic.states import State
from civic.storage import Storage
from civic.values import Inbound
from tests.chat import MARIA, Chat
from tests.conftest import SECRET


def test_every_reply_is_in_the_outbox_with_the_inbound_it_answers(
    engine: Engine, storage: Storage
) -> None:
    chat = Chat(engine, deliver=False)
    chat.send(MARIA, message_id="wamid.1")
    outcome = chat.last
    assert outcome.deliveries and all(d.status == "pending" for d in outcome.deliveries)
    assert [d.reply for d in outcome.deliveries] == list(outcome.replies)
    with storage.reading() as tx:
        inbound = tx.inbound_message_id("test", "wamid.1")
        assert inbound is not None
        stored = tx.outbox_for(inbound)
    assert [d.id for d in stored] == [d.id for d in outcome.deliveries]
    assert {d.author for d in stored} == {"bot"}


def test_a_duplicate_delivery_returns_the_replies_stored_the_first_time(
    engine: Engine, storage: Storage
) -> None:
    chat = Chat(engine, deliver=False)
    first = chat.send(MARIA, message_id="wamid.A")
    # The channel crashed before sending; the platform delivers the same message again.
    again = chat.send(MARIA, message_id="wamid.A")
    assert chat.last.duplicate and again == first
    assert [d.status for d in chat.last.deliveries] == ["pending"] * len(chat.last.deliveries)
    engine.mark([d.id for d in chat.last.deliveries], "sent")
    chat.send(MARIA, message_id="wamid.A")
    assert {d.status for d in chat.last.deliveries} == {"sent"}  # nothing left to re-send
    with storage.reading() as tx:
        assert tx.count_messages(direction="in") == 1


def test_delivery_statuses_never_move_backwards(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine, deliver=False)
    chat.send(MARIA)
    ids = [d.id for d in chat.last.deliveries]
    engine.mark(ids, "read")
    engine.mark(ids, "delivered")  # late, out of order
    engine.mark(ids, "sent")
    assert engine.pending("test", chat.address) == []
    with storage.reading() as tx:
        inbound = tx.inbound_message_id("test", "m-status")
    assert inbound is None
    chat.send("1", message_id="m-status")
    with storage.reading() as tx:
        statuses = {d.status for d in tx.outbox_for(tx.inbound_message_id("test", "m-status"))}
    assert statuses == {"pending"}
    with pytest.raises(ValueError, match="unknown delivery status"):
        engine.mark(ids, "lost")


def test_pending_lists_only_what_was_not_sent_oldest_first(engine: Engine) -> None:
    chat = Chat(engine, deliver=False)
    chat.send(MARIA)
    first = chat.last.deliveries
    engine.mark([d.id for d in first], "sent")
    chat.send("atendente")
    staff.reply(engine, chat.last.conversation_id, "Ana", "Olá, Maria!")
    pending = engine.pending("test", chat.address)
    assert [d.author for d in pending] == ["bot", "agent"]
    assert pending[0].id < pending[1].id
    assert engine.pending("test", "someone else") == []


def test_outbound_messages_never_hold_a_cpf(engine: Engine, storage: Storage) -> None:
    chat = waiting_chat(engine)
    staff.reply(engine, chat.last.conversation_id, "Ana", "Confirme: seu CPF é 529.982.247-25?")
    (delivery,) = [d for d in engine.pending("test", chat.address) if d.author == "agent"]
    assert "529.982.247-25" not in delivery.reply.text
    assert "***.982.247-**" in delivery.reply.text


def waiting_chat(engine: Engine) -> Chat:
    chat = Chat(engine)
    chat.script(MARIA, "atendente")
    return chat


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("address", "x" * 129, "longer than 128"),
        ("address", "  ", "non-empty"),
        ("address", "abc\x00", "control"),
        ("channel_message_id", "m" * 129, "longer than 128"),
        ("channel", "c" * 33, "longer than 32"),
        ("address", "\ud8da", "surrogate"),
    ],
)
def test_addresses_and_ids_the_databases_would_treat_differently_are_refused(
    engine: Engine, field: str, value: str, error: str
) -> None:
    values = {"channel": "test", "address": "a1", "text": "oi", "channel_message_id": "m1"}
    values[field] = value
    with pytest.raises(InvalidInbound, match=error):
        engine.handle(Inbound(**values))


def test_hostile_text_is_stored_and_answered(engine: Engine, storage: Storage) -> None:
    """A lone surrogate (json.loads of "\\ud8da"), NULs, fullwidth digits, a 250 KB line."""
    chat = Chat(engine)
    assert chat.send("Maria \ud8da José\x00 ５２９.９８２.２４７-２５")
    assert chat.state == State.CHOOSING
    chat.send("9" * 250_000)
    chat.send("." * 100_000 + "529982247" + " 1" * 50_000)
    with storage.reading() as tx:
        texts = [m["text"] for m in tx.messages(chat.last.conversation_id)]
    assert all("\x00" not in text for text in texts)
    assert max(len(text) for text in texts) <= 20_000
    assert not any("52998224725" in "".join(filter(str.isdigit, t)) for t in texts)


# -- expiry ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_quiet_conversations_expire_as_abandoned(storage: Storage) -> None:
    clock = Clock()
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), clock=clock)
    menu = Chat(engine, "menu")
    menu.send(MARIA)
    survey = Chat(engine, "survey")
    survey.script(MARIA, "encerrar")
    team = Chat(engine, "team")
    team.script(MARIA, "atendente")
    clock.now += dt.timedelta(hours=3)
    assert staff.expire(engine) == [survey.last.conversation_id]  # the survey waits less
    clock.now += dt.timedelta(hours=22)
    assert staff.expire(engine) == [menu.last.conversation_id]
    assert staff.expire(engine) == []  # already closed: closed once
    with storage.reading() as tx:
        row = tx.conversation(menu.last.conversation_id)
        assert row["state"] == "closed" and row["close_reason"] == "abandoned"
        assert tx.conversation(team.last.conversation_id)["closed_at"] is None
    (notice,) = [d for d in engine.pending("test", "menu") if d.author == "system"]
    assert "encerramos" in notice.reply.text
    # The citizen writes again: a new conversation.
    menu.send("oi")
    assert menu.last.conversation_id != survey.last.conversation_id


def test_a_citizen_who_writes_again_is_not_expired(storage: Storage) -> None:
    clock = Clock()
    config = Config(expiry=ExpiryConfig(after=dt.timedelta(hours=1), notice=False))
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), clock=clock, config=config)
    chat = Chat(engine)
    chat.send(MARIA)
    clock.now += dt.timedelta(minutes=50)
    chat.send("1")
    clock.now += dt.timedelta(minutes=50)
    assert staff.expire(engine) == []
    clock.now += dt.timedelta(minutes=20)
    assert staff.expire(engine) == [chat.last.conversation_id]
    assert [d for d in engine.pending("test", chat.address) if d.author == "system"] == []


def test_expiry_from_several_workers_closes_each_conversation_once(storage: Storage) -> None:
    import threading

    from civic import hookimpl

    closed: list[int] = []

    class Count:
        __name__ = "count"

        @hookimpl
        def conversation_closed(self, conversation) -> None:  # type: ignore[no-untyped-def]
            closed.append(conversation.id)

    pm = load_plugins()
    plugin = Count()
    pm.register(plugin)
    try:
        clock = Clock()
        engine = Engine(storage, secret=SECRET, manager=pm, clock=clock)
        for address in range(6):
            Chat(engine, f"c{address}").send(MARIA)
        clock.now += dt.timedelta(days=2)
        results: list[list[int]] = []
        workers = [
            threading.Thread(target=lambda: results.append(staff.expire(engine))) for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        pm.unregister(plugin)
    assert sorted(n for found in results for n in found) == sorted(closed) == list(range(1, 7))
