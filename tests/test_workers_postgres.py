"""Several workers on one database: one citizen's messages in order, nothing lost, nothing
sent twice, protocol numbers unique.

Four worker processes take WhatsApp deliveries the way ``civic serve`` does (the inbox's
:func:`~civic.channels.inbox.receive` with the channel's own ``process`` and ``sender``),
and each also drains the outbox through a fake channel that records every send, with a
stamp shared by all processes. Two kinds of citizens write at once:

- *requesters* type a whole CAC request, one message after the other: each message is
  handed to the next worker as soon as the previous one is stored, so it arrives while a
  different worker is still processing the previous ones;
- *bursters* send several messages at the very same moment to different workers (the
  first message of a new citizen among them): the inbox decides their order.

On PostgreSQL the test is skipped without ``CIVIC_TEST_DATABASE_URL``; SQLite runs the
same workers on one file, smaller. The tests after it take the pieces one at a time: a
delivery waiting behind another worker's, a failed one tried again first, a dead
worker's, the outbox's claims and a sending round.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import multiprocessing
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from civic import cpf
from civic import delivery as delivery_module
from civic.channels import Channel, Host, Outgoing, Sent, inbox
from civic.crypto import load_vault
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage, Transaction, inbox_t, message_t, outbox_t, submission_t
from civic.values import Inbound
from tests.conftest import POSTGRES_URL, SECRET

WORKERS = 4
#: What a requester types, and a piece of civic's first answer to each message.
REQUEST = [
    ("{name} {cpf}", "foi registrado"),
    ("1", "Você está no CAC"),
    ("quero fazer uma solicitação", "Sobre o que é a sua solicitação?"),
    ("iluminação pública", "Descreva a sua solicitação"),
    ("Poste apagado na Rua das Flores, em frente ao número 120.", "Em qual bairro?"),
    ("Centro", "Como prefere receber a resposta?"),
    ("2", "Qual telefone"),
    ("(35) 3435-2052", "Confira suas respostas"),
    ("confirmar", "Seu protocolo é CAC-"),
    ("obrigado", "de 0 a 10"),
]
BURST = 5  # messages each burster sends at once
SIZES = {"postgres": (40, 8), "sqlite": (8, 4)}  # requesters, bursters


# -- one worker process ---------------------------------------------------------------


def _worker(url: str, jobs: Any, events: Any, stamp: Any) -> None:
    """Take deliveries from ``jobs`` until ``None``, reporting each as stored and as
    received; meanwhile deliver the outbox through a channel that counts its sends."""
    from civic.channels import whatsapp
    from civic.config import Config

    storage = Storage(url)
    config = Config()
    host = Host(engine=Engine(storage, secret=SECRET, manager=load_plugins(), config=config),
                config=config)  # fmt: skip
    real_store = inbox.store
    job: list[Any] = [None]  # the delivery being received: (citizen, step), body

    def store(*args: Any, **kwargs: Any) -> tuple[int, bool]:
        stored = real_store(*args, **kwargs)
        events.put(("stored", job[0][0], stored[0]))
        return stored

    inbox.store = store  # type: ignore[assignment]  # the real one, reporting as it goes
    sends: list[tuple[int, str, int]] = []

    async def send(_host: Host, outgoing: Outgoing) -> Sent:
        with stamp.get_lock():
            stamp.value += 1
            sends.append((stamp.value, outgoing.address, outgoing.delivery.id))
        await asyncio.sleep(0.001)  # a provider takes a moment: claims overlap
        return Sent(ok=True, provider_id=f"fake.{outgoing.delivery.id}")

    channel = Channel(name="whatsapp", sender=send)
    stop = threading.Event()

    async def deliver() -> None:
        while not stop.is_set():
            if not await delivery_module.deliver_due(host, channel, limit=5):
                await asyncio.sleep(0.01)

    sender = threading.Thread(target=asyncio.run, args=(deliver(),))
    sender.start()
    try:
        while (taken := jobs.get()) is not None:
            job[0] = taken
            key, body = taken
            _inbox_id, status = inbox.receive(
                host, "whatsapp", body, whatsapp.process, whatsapp.sender(json.loads(body))
            )
            events.put(("received", key, status))
        jobs.get()  # the second None: every delivery is processed, every message sent
    finally:
        stop.set()
        sender.join()
        events.put(("sends", None, sends))
        storage.close()


# -- the deliveries -----------------------------------------------------------------------


def address(kind: str, number: int) -> str:
    return f"55359{'1' if kind == 'requester' else '2'}{number:07d}"


def delivery(who: str, step: int, text: str) -> bytes:
    """A WhatsApp delivery of one text message; its id names the sender and the step."""
    item = {
        "from": who,
        "id": f"wamid.{who}.{step}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "553534350000", "phone_number_id": "1065"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": who}],
        "messages": [item],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1029", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def requester_text(number: int, step: int) -> str:
    digits = cpf.complete(f"{200000000 + number * 7919:09d}")
    return REQUEST[step][0].format(name="Ana Souza", cpf=cpf.formatted(digits))


# -- the run ------------------------------------------------------------------------------


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("postgres", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="CIVIC_TEST_DATABASE_URL is not set")),
])  # fmt: skip
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A new, migrated database: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'civic.db'}"
        Storage(url).migrate()
        yield "sqlite", url
        return
    assert POSTGRES_URL
    base = sa.make_url(POSTGRES_URL)
    name = f"{base.database}_workers_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        storage = Storage(url)
        storage.migrate()
        storage.close()
        yield "postgres", url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Run:
    """Four workers, the citizens' deliveries handed out, what came back."""

    def __init__(self, url: str, requesters: int, bursters: int) -> None:
        self.url = url
        self.requesters = [address("requester", n) for n in range(requesters)]
        self.bursters = [address("burster", n) for n in range(bursters)]
        self.inbox_ids: dict[tuple[str, int], int] = {}
        self.statuses: collections.Counter[str] = collections.Counter()
        self.sends: list[tuple[int, str, int]] = []

    def go(self, timeout: float = 120) -> None:
        load_vault()  # the key file, made once before the workers read it
        context = multiprocessing.get_context("spawn")
        stamp = context.Value("q", 0)
        events = context.Queue()
        jobs = [context.Queue() for _ in range(WORKERS)]
        processes = [
            context.Process(target=_worker, args=(self.url, jobs[n], events, stamp))
            for n in range(WORKERS)
        ]
        for process in processes:
            process.start()
        try:
            self._hand_out(jobs, events, time.monotonic() + timeout)
            for worker in jobs:
                worker.put(None)
            self._await_quiet(time.monotonic() + timeout)
            for worker in jobs:
                worker.put(None)
            for _ in processes:
                kind, _key, sends = self._next(events, time.monotonic() + timeout)
                while kind != "sends":
                    kind, _key, sends = self._next(events, time.monotonic() + timeout)
                self.sends += sends
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
        assert all(process.exitcode == 0 for process in processes)

    def _hand_out(self, jobs: list[Any], events: Any, deadline: float) -> None:
        """Bursts at once; each requester's next message once the previous is stored,
        to the next worker."""
        for number, who in enumerate(self.bursters):
            for step in range(BURST):
                job = ((who, step), delivery(who, step, f"mensagem {step}"))
                jobs[(number + step) % WORKERS].put(job)
        for number, who in enumerate(self.requesters):
            jobs[number % WORKERS].put(((who, 0), delivery(who, 0, requester_text(number, 0))))
        expected = len(self.bursters) * BURST + len(self.requesters) * len(REQUEST)
        received = 0
        while received < expected:
            kind, key, value = self._next(events, deadline)
            assert kind != "sends", "a worker stopped before the end"
            who, step = key
            if kind == "received":
                received += 1
                self.statuses[value] += 1
                continue
            self.inbox_ids[who, step] = value
            if who in self.requesters and step + 1 < len(REQUEST):
                number = self.requesters.index(who)
                text = requester_text(number, step + 1)
                jobs[(number + step + 1) % WORKERS].put(
                    ((who, step + 1), delivery(who, step + 1, text))
                )

    def _await_quiet(self, deadline: float) -> None:
        """Until no delivery is left to process and no message to send."""
        storage = Storage(self.url)
        try:
            while True:
                with storage.reading() as tx:
                    waiting = tx.conn.execute(
                        sa.select(sa.func.count()).where(inbox_t.c.status == "received")
                    ).scalar_one()
                    unsent = tx.conn.execute(
                        sa.select(sa.func.count()).where(outbox_t.c.status == "pending")
                    ).scalar_one()
                if not waiting and not unsent:
                    return
                assert time.monotonic() < deadline, f"{waiting} unprocessed, {unsent} unsent"
                time.sleep(0.05)
        finally:
            storage.close()

    @staticmethod
    def _next(events: Any, deadline: float) -> Any:
        try:
            return events.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("the workers stopped answering") from None


def test_four_workers_keep_each_citizens_order_and_send_each_message_once(
    database: tuple[str, str],
) -> None:
    kind, url = database
    run = Run(url, *SIZES[kind])
    run.go()
    storage = Storage(url)
    try:
        with storage.reading() as tx:
            inbox = list(tx.conn.execute(sa.select(inbox_t)).mappings())
            inbound = list(
                tx.conn.execute(
                    sa.select(message_t).where(message_t.c.direction == "in").order_by("id")
                ).mappings()
            )
            outbox = list(tx.conn.execute(sa.select(outbox_t).order_by("id")).mappings())
            protocols = list(tx.conn.execute(sa.select(submission_t.c.protocol)).scalars())
            conversations = {row["id"]: row for row in tx.conversations()}
    finally:
        storage.close()
    everyone = run.requesters + run.bursters
    sent = len(run.requesters) * len(REQUEST) + len(run.bursters) * BURST

    # Every delivery stored once and processed; every message in the log once.
    assert len(inbox) == len(run.inbox_ids) == sent
    assert {row["status"] for row in inbox} == {"processed"}
    assert {row["id"] for row in inbox} == set(run.inbox_ids.values())
    assert sorted(row["channel_message_id"] for row in inbound) == sorted(
        f"wamid.{who}.{step}" for who, step in run.inbox_ids
    )

    # Each citizen's messages in the log in the order the inbox received them; a
    # requester's, in the order typed.
    steps: dict[str, list[int]] = collections.defaultdict(list)
    for row in inbound:
        who = conversations[row["conversation_id"]]["address"]
        _, sender, step = row["channel_message_id"].split(".")
        assert sender == who
        steps[who].append(int(step))
    for who in everyone:
        in_inbox_order = sorted(steps[who], key=lambda step: run.inbox_ids[who, step])
        assert steps[who] == in_inbox_order, who
    for who in run.requesters:
        assert steps[who] == list(range(len(REQUEST))), who

    # Every message answered; a requester's answers are the request's, step by step.
    answers: dict[int, list[str]] = collections.defaultdict(list)
    for row in outbox:
        if row["in_reply_to"] is not None:
            answers[row["in_reply_to"]].append(json.loads(row["payload"])["text"])
    for row in inbound:
        assert answers[row["id"]], row["channel_message_id"]
        _, who, step = row["channel_message_id"].split(".")
        if who in run.requesters:
            expected = REQUEST[int(step)][1]
            assert any(expected in text for text in answers[row["id"]]), (who, step)

    # One protocol number per requester, none twice.
    assert len(protocols) == len(set(protocols)) == len(run.requesters)

    # The outbox drained by four claimers: each message sent exactly once, and each
    # citizen's messages sent in the order they were stored.
    assert {row["status"] for row in outbox} == {"sent"}
    times = collections.Counter(outbox_id for _, _, outbox_id in run.sends)
    assert set(times) == {row["id"] for row in outbox}
    assert set(times.values()) == {1}
    for who in everyone:
        order = [outbox_id for _, address, outbox_id in sorted(run.sends) if address == who]
        assert order == sorted(order), who


# -- the inbox's order, one piece at a time -----------------------------------------------


class Recorder:
    """A channel's ``process`` that records what it processed, by which thread; it can
    hold the first delivery until released, or fail a delivery once."""

    def __init__(self, *, hold: bytes | None = None, fail_once: bytes | None = None) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.hold, self.fail_once = hold, fail_once
        self.holding, self.release = threading.Event(), threading.Event()

    def __call__(self, _host: Host, body: bytes) -> list[str]:
        self.seen.append((threading.current_thread().name, body))
        if body == self.fail_once:
            self.fail_once = None
            raise RuntimeError("the database went away")
        if body == self.hold:
            self.holding.set()
            assert self.release.wait(10)
        return []

    @property
    def bodies(self) -> list[bytes]:
        return [body for _, body in self.seen]


@pytest.fixture
def host(engine: Engine) -> Host:
    return Host(engine=engine, config=engine.config)


def statuses(host: Host) -> dict[bytes, str]:
    with host.engine.storage.reading() as tx:
        rows = tx.conn.execute(sa.select(inbox_t.c.body, inbox_t.c.status)).all()
    return {inbox.opened(host, bytes(body)): status for body, status in rows}


def test_a_delivery_behind_one_in_progress_is_processed_next_by_that_worker(host: Host) -> None:
    process = Recorder(hold=b"1")
    first: list[tuple[int, str]] = []
    worker = threading.Thread(
        target=lambda: first.append(inbox.receive(host, "whatsapp", b"1", process, "5511")),
        name="first",
    )
    worker.start()
    assert process.holding.wait(10)
    # The same citizen's next delivery is stored and acknowledged, not processed beside it;
    # another citizen's is processed at once.
    assert inbox.receive(host, "whatsapp", b"2", process, "5511")[1] == "received"
    assert inbox.receive(host, "whatsapp", b"x", process, "5522")[1] == "processed"
    process.release.set()
    worker.join(10)
    assert first[0][1] == "processed"
    assert process.seen == [("first", b"1"), ("MainThread", b"x"), ("first", b"2")]
    assert statuses(host) == {b"1": "processed", b"2": "processed", b"x": "processed"}


def test_a_delivery_stored_while_the_previous_one_is_being_finished_is_not_left_behind(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A has processed delivery 1 and, in the transaction that marks it, found
    nothing next; before A commits, worker B stores delivery 2 and would see 1 still
    unfinished. B must wait for A's transaction (then 1 is finished and B processes 2)."""
    host = Host(engine=postgres_engine, config=postgres_engine.config)
    storage = postgres_engine.storage
    real_next = Transaction.next_inbox
    second: list[tuple[int, str]] = []
    b = threading.Thread(
        target=lambda: second.append(inbox.receive(host, "whatsapp", b"2", Recorder(), "5511"))
    )

    def next_inbox(tx: Transaction, *args: Any) -> Any:
        found = real_next(tx, *args)
        if threading.current_thread().name == "A" and not b.is_alive() and not second:
            b.start()  # B arrives now, while A's transaction is still open
            while b.is_alive() and not waiting_for_a_lock(storage):
                time.sleep(0.01)
        return found

    monkeypatch.setattr(Transaction, "next_inbox", next_inbox)
    first: list[tuple[int, str]] = []
    a = threading.Thread(
        target=lambda: first.append(inbox.receive(host, "whatsapp", b"1", Recorder(), "5511")),
        name="A",
    )
    a.start()
    a.join(10)
    b.join(10)
    assert first[0][1] == "processed"
    assert second[0][1] == "processed"
    assert statuses(host) == {b"1": "processed", b"2": "processed"}


def waiting_for_a_lock(storage: Storage) -> bool:
    with storage.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).scalar()
        )


def test_a_failed_delivery_is_tried_again_before_the_senders_next(host: Host) -> None:
    process = Recorder(fail_once=b"1")
    assert inbox.receive(host, "whatsapp", b"1", process, "5511")[1] == "received"
    assert inbox.receive(host, "whatsapp", b"2", process, "5511")[1] == "processed"
    assert process.bodies == [b"1", b"1", b"2"]
    assert statuses(host) == {b"1": "processed", b"2": "processed"}


def test_a_dead_workers_delivery_comes_back_after_its_lease_in_order(host: Host) -> None:
    now = [dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)]
    host.engine.clock = lambda: now[0]
    process = Recorder()
    channels = {"whatsapp": Channel(name="whatsapp", process=process)}
    assert inbox.store(host, "whatsapp", b"1", "5511")[1]  # held; then the worker died
    assert inbox.receive(host, "whatsapp", b"2", process, "5511")[1] == "received"
    assert inbox.process_pending(host, channels, dt.timedelta(0)) == 0  # still held
    now[0] += inbox.LEASE
    assert inbox.process_pending(host, channels, dt.timedelta(0)) == 2
    assert process.bodies == [b"1", b"2"]


def test_deliveries_without_a_usable_sender_are_processed_at_once(host: Host) -> None:
    process = Recorder(hold=b"held")
    for sender in (None, "", " ", "5" * 129, "55\x0011", "55\ud80011", 5511):
        assert inbox.usable_sender(sender) is None
        assert inbox.receive(host, "whatsapp", b"ok", process, sender)[1] == "processed"  # type: ignore[arg-type]
    assert inbox.usable_sender("BR.1502576394655843") == "BR.1502576394655843"
    with host.engine.storage.reading() as tx:
        assert set(tx.conn.execute(sa.select(inbox_t.c.sender)).scalars()) == {None}


def test_the_whatsapp_sender_of_a_delivery() -> None:
    from civic.channels import whatsapp

    one = json.loads(delivery("5535", 0, "oi"))
    assert whatsapp.sender(one) == "5535"
    two = json.loads(delivery("5535", 0, "oi"))
    other = json.loads(delivery("5536", 1, "olá"))["entry"][0]["changes"][0]["value"]
    two["entry"][0]["changes"][0]["value"]["messages"] += other["messages"]
    assert whatsapp.sender(two) is None  # two citizens batched: processed unordered
    statuses_only = {"object": "whatsapp_business_account", "entry": []}
    assert whatsapp.sender(statuses_only) is None
    assert whatsapp.sender([1, {"x": "\ud800"}]) is None


# -- the outbox: claimed once, each citizen's messages in order ---------------------------


def queued(engine: Engine, *addresses: str) -> dict[str, list[int]]:
    """Each address's pending outbox ids after it says hello (several replies each)."""
    for who in addresses:
        engine.handle(Inbound(channel="whatsapp", address=who, text="oi", channel_message_id=who))
    with engine.storage.reading() as tx:
        rows = tx.conn.execute(sa.select(outbox_t.c.id, outbox_t.c.address).order_by("id"))
        found: dict[str, list[int]] = collections.defaultdict(list)
        for outbox_id, who in rows:
            found[who].append(outbox_id)
    assert all(len(found[who]) >= 2 for who in addresses)
    return dict(found)


def claim(engine: Engine, now: dt.datetime, limit: int = 20) -> list[int]:
    with engine.storage.transaction() as tx:
        return [d.id for d, _, _ in tx.claim_outbox("whatsapp", now, dt.timedelta(60), limit)]


def test_a_citizens_later_messages_wait_while_an_earlier_one_waits_for_its_retry(
    engine: Engine,
) -> None:
    ids = queued(engine, "5511", "5522")
    now = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)
    first = ids["5511"][0]
    assert claim(engine, now, limit=1) == [first]
    with engine.storage.transaction() as tx:  # not sent: tried again in five minutes
        tx.record_attempt(first, now, error="503", retry_at=now + dt.timedelta(minutes=5))
    assert claim(engine, now) == ids["5522"]  # 5511's others wait behind the first
    later = now + dt.timedelta(minutes=5)
    assert claim(engine, later) == ids["5511"]  # due again: the first, then the rest
    assert claim(engine, later) == []  # all held


@pytest.fixture
def postgres_engine(tmp_path: Path) -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("CIVIC_TEST_DATABASE_URL is not set")
    from tests.conftest import make_storage

    storage = make_storage("postgres", tmp_path)
    yield Engine(storage, secret=SECRET, manager=load_plugins())
    storage.close()


def test_claimers_at_once_take_different_rows_without_waiting(postgres_engine: Engine) -> None:
    ids = queued(postgres_engine, "5511", "5522", "5533")
    now = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)
    storage = postgres_engine.storage
    with storage.transaction() as first, storage.transaction() as second:
        first.conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")  # waiting would fail
        second.conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        one = [d.id for d, _, _ in first.claim_outbox("whatsapp", now, dt.timedelta(60), 4)]
        two = [d.id for d, _, _ in second.claim_outbox("whatsapp", now, dt.timedelta(60), 20)]
    # The first took 5511's messages and the start of 5522's; the second skipped those
    # rows, and 5522's later ones too (they must follow the first's), taking 5533's.
    assert one == ids["5511"] + ids["5522"][: 4 - len(ids["5511"])]
    assert two == ids["5533"]


# -- sending: given back when the lease runs short, held back after a failure -------------


def test_a_round_sends_within_its_lease_and_holds_an_address_back_after_a_failure(
    engine: Engine,
) -> None:
    ids = queued(engine, "5511", "5522")
    now = [dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)]
    engine.clock = lambda: now[0]
    host = Host(engine=engine, config=engine.config)
    sent: list[int] = []

    async def send(_host: Host, outgoing: Outgoing) -> Sent:
        if outgoing.delivery.id == ids["5511"][0]:
            return Sent(ok=False, error="HTTP 503", retry=False)  # failed for good
        sent.append(outgoing.delivery.id)
        now[0] += delivery_module.SEND_WITHIN / 2  # a slow provider
        return Sent(ok=True, provider_id=f"fake.{outgoing.delivery.id}")

    channel = Channel(name="whatsapp", sender=send)
    asyncio.run(delivery_module.deliver_due(host, channel))
    # 5511's first failed: its others wait for the next round; 5522's first two went out
    # before half the lease was gone, the rest were given back unsent.
    assert sent == ids["5522"][:2]
    assert asyncio.run(delivery_module.deliver_due(host, channel)) == 2
    assert sent == ids["5522"][:2] + ids["5511"][1:3]
    while asyncio.run(delivery_module.deliver_due(host, channel)):
        pass
    assert sorted(sent) == sorted(ids["5511"][1:] + ids["5522"])
    assert len(sent) == len(set(sent))
