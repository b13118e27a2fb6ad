"""SIGKILL at the worst moments: after restart each reply is sent exactly once.

``civic serve`` runs as a subprocess with a failpoint armed (:mod:`civic.failpoints`):
it kills itself with SIGKILL (1) after a delivery was stored and acknowledged and before
the engine saw it, (2) after the Graph API accepted a reply and before civic recorded
it. It is started again without failpoints; the fake Meta (:class:`FakeMeta`) keeps
retrying its status webhooks meanwhile, as Meta does. Then every reply civic wrote must
have reached the Graph API exactly once: each outbox row's ``biz_opaque_callback_data``
(``civic:<id>``) is received once and only once.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL
from tests.faults.running import Civic, FakeMeta, message, own_database, post, rows, wait_for

KINDS = [pytest.param("sqlite", id="sqlite")]
if POSTGRES_URL:
    KINDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))

#: Short leases so a crashed worker's holds end within the test (the defaults are
#: minutes); the grace period stays far longer than a restart takes.
QUICK = {
    "CIVIC_INBOX_LEASE_SECONDS": "1",
    "CIVIC_INBOX_RETRY_SECONDS": "1",
    "CIVIC_SEND_GRACE_SECONDS": "20",
}
PHONE = "5535999990001"


@pytest.fixture(params=KINDS)
def civic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Civic, FakeMeta]]:
    with FakeMeta() as meta, own_database(request.param, tmp_path, "crash") as url:
        server = Civic(tmp_path, url, meta, QUICK)
        try:
            yield server, meta
        finally:
            server.stop()


def outbox(server: Civic) -> list[tuple[int, str]]:
    return [
        (int(row[0]), str(row[1]))
        for row in rows(server.database_url, "SELECT id, status FROM outbox ORDER BY id")
    ]


def all_sent_and_confirmed(server: Civic, meta: FakeMeta) -> bool:
    found = outbox(server)
    return (
        bool(found)
        and all(status != "pending" for _, status in found)
        and (meta.pending_statuses() == 0)
    )


def assert_each_sent_once(server: Civic, meta: FakeMeta) -> None:
    found = outbox(server)
    assert found and {status for _, status in found} == {"sent"}, found
    times = Counter(meta.callbacks())
    assert {f"civic:{outbox_id}": times[f"civic:{outbox_id}"] for outbox_id, _ in found} == {
        f"civic:{outbox_id}": 1 for outbox_id, _ in found
    }
    assert set(times) == {f"civic:{outbox_id}" for outbox_id, _ in found}


def test_killed_after_storing_a_delivery_answers_it_once_after_restart(
    civic: tuple[Civic, FakeMeta],
) -> None:
    server, meta = civic
    server.start(failpoints="after_inbox_store")
    assert post(server.port, message(PHONE, "wamid.crash.1", "oi")) == 200  # acknowledged
    assert server.killed() == -signal.SIGKILL, server.tail()
    # Stored, acknowledged, never processed: no reply written, none sent.
    assert rows(server.database_url, "SELECT status FROM inbox") == [("received",)]
    assert outbox(server) == [] and meta.sent == []

    server.start()
    wait_for(lambda: all_sent_and_confirmed(server, meta), 90, "the replies after restart")
    # The delivery and the status webhooks that followed: all processed.
    assert {row[0] for row in rows(server.database_url, "SELECT status FROM inbox")} == {
        "processed"
    }
    # The citizen goes on talking: answered too, nothing sent twice.
    before = len(outbox(server))
    assert post(server.port, message(PHONE, "wamid.crash.2", "Maria Silva")) == 200
    wait_for(
        lambda: len(outbox(server)) > before and all_sent_and_confirmed(server, meta),
        60,
        "the reply to the next message",
    )
    assert_each_sent_once(server, meta)


def test_killed_between_sending_and_recording_sends_each_reply_once(
    civic: tuple[Civic, FakeMeta],
) -> None:
    server, meta = civic
    server.start(failpoints="after_send")
    assert post(server.port, message(PHONE, "wamid.crash.1", "oi")) == 200
    assert server.killed() == -signal.SIGKILL, server.tail()
    # The Graph API accepted a reply that civic did not record: it is still pending.
    assert meta.sent, server.tail()
    in_doubt = int(meta.callbacks()[-1].removeprefix("civic:"))
    assert (in_doubt, "pending") in outbox(server)
    assert meta.pending_statuses() >= 1  # Meta could not tell civic: it retries

    server.start()
    wait_for(lambda: all_sent_and_confirmed(server, meta), 90, "the replies after restart")
    assert_each_sent_once(server, meta)
    # The status webhook recorded the message civic did not: with the provider's id.
    provider = rows(
        server.database_url, f"SELECT provider_message_id FROM outbox WHERE id = {in_doubt}"
    )
    assert provider[0][0] and str(provider[0][0]).startswith("wamid.fake.")
