"""The engine driven by arbitrary message sequences, checked against invariants."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from civic.engine import Engine
from civic.states import State
from civic.storage import message_t, rating_t
from civic.values import Inbound
from tests.chat import MARIA
from tests.conftest import SECRET, make_storage
from tests.strategies import nasty_texts

#: What a citizen might plausibly type at any step, mixed with hostile input.
messages = st.one_of(
    nasty_texts,
    st.sampled_from(
        [
            MARIA, "1", "2", "3", "9", "sim", "não", "menu", "encerrar", "atendente",
            "obrigado", "nota 9", "dez", "11", "7 ou 8", "pular", "cancelar", "procon",
            "quero fazer uma reclamação de uma loja", "alistamento", "Maria 111.111.111-11",
        ]
    ),
)  # fmt: skip


class ConversationMachine(RuleBasedStateMachine):
    """Several citizens talk to one database; engines restart at random."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="civic-stateful-")
        self.storage = make_storage("sqlite", Path(self.folder))  # a copied template
        self.engine = Engine(self.storage, secret=SECRET)
        self.processed = 0
        self.sent_ids: list[str] = []
        self.replies: dict[str, tuple[object, ...]] = {}
        self.addresses: dict[str, str] = {}
        self.counter = 0

    def teardown(self) -> None:
        self.storage.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _send(self, address: str, text: str, message_id: str) -> None:
        outcome = self.engine.handle(
            Inbound(channel="whatsapp", address=address, text=text, channel_message_id=message_id)
        )
        assert not outcome.duplicate
        assert outcome.state in {state.value for state in State}
        self.processed += 1
        self.sent_ids.append(message_id)
        self.replies[message_id] = outcome.replies
        self.addresses[message_id] = address

    @rule(address=st.sampled_from(["a", "b"]), text=messages)
    def citizen_writes(self, address: str, text: str) -> None:
        self.counter += 1
        self._send(address, text, f"id-{self.counter}")

    @precondition(lambda self: self.sent_ids)
    @rule(data=st.data())
    def channel_retries(self, data: st.DataObject) -> None:
        message_id = data.draw(st.sampled_from(self.sent_ids))
        before = self._snapshot()
        outcome = self.engine.handle(
            Inbound(
                channel="whatsapp",
                address=self.addresses[message_id],
                text="retry",
                channel_message_id=message_id,
            )
        )
        # Nothing changes, and the replies stored the first time come back to be re-sent.
        assert outcome.duplicate and outcome.replies == self.replies[message_id]
        assert self._snapshot() == before

    @rule()
    def process_restarts(self) -> None:
        self.engine = Engine(self.storage, secret=SECRET)

    def _snapshot(self) -> tuple[int, int, list[tuple[object, ...]]]:
        with self.storage.reading() as tx:
            conversations = [(c["id"], c["state"], c["context"]) for c in tx.conversations()]
            return tx.count_messages(), len(tx.ratings()), conversations

    @invariant()
    def every_inbound_message_stored_exactly_once(self) -> None:
        with self.storage.engine.connect() as conn:
            rows = conn.execute(
                sa.select(message_t.c.channel_message_id).where(message_t.c.direction == "in")
            ).scalars()
            ids = list(rows)
        assert len(ids) == self.processed
        assert sorted(ids) == sorted(self.sent_ids)

    @invariant()
    def states_are_legal_and_one_open_conversation_per_address(self) -> None:
        with self.storage.reading() as tx:
            conversations = tx.conversations()
        legal = {state.value for state in State}
        assert all(c["state"] in legal for c in conversations)
        assert all((c["state"] == "closed") == (c["closed_at"] is not None) for c in conversations)
        open_addresses = [c["address"] for c in conversations if c["closed_at"] is None]
        assert len(open_addresses) == len(set(open_addresses))

    @invariant()
    def ratings_are_within_the_scale(self) -> None:
        with self.storage.engine.connect() as conn:
            scores = list(conn.execute(sa.select(rating_t.c.score)).scalars())
        assert all(score is None or 0 <= score <= 10 for score in scores)


ConversationMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
TestConversations = ConversationMachine.TestCase
