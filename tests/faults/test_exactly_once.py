"""The pieces of exactly-once sending, with a fake clock (the running-server proof is
``test_crash.py``): a message whose sender died is held for the grace period, a status
naming its outbox row records it sent, and without one it is sent again after the grace.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa

from civic import delivery
from civic.channels import Channel, Host, Outgoing, Sent, whatsapp
from civic.channels import whatsapp_api as api
from civic.engine import Engine
from civic.storage import outbox_t
from civic.values import Inbound

START = dt.datetime(2026, 3, 16, 13, 0, tzinfo=dt.UTC)


def setup(engine: Engine) -> tuple[Host, list[int], list[dt.datetime]]:
    now = [START]
    engine.clock = lambda: now[0]
    engine.handle(Inbound(channel="whatsapp", address="5511", text="oi", channel_message_id="m1"))
    with engine.storage.reading() as tx:
        ids = list(tx.conn.execute(sa.select(outbox_t.c.id).order_by("id")).scalars())
    assert ids
    return Host(engine=engine, config=engine.config), ids, now


def died_after_sending(engine: Engine, now: dt.datetime) -> list[int]:
    """A worker claims the messages, sends them, and is killed before recording."""
    with engine.storage.transaction() as tx:
        return [d.id for d, _, _ in tx.claim_outbox("whatsapp", now, delivery.IN_DOUBT, 100)]


def statuses(engine: Engine) -> dict[int, tuple[str, str | None]]:
    with engine.storage.reading() as tx:
        rows = tx.conn.execute(
            sa.select(outbox_t.c.id, outbox_t.c.status, outbox_t.c.provider_message_id)
        )
        return {row[0]: (row[1], row[2]) for row in rows}


def channel(sent: list[int]) -> Channel:
    async def send(_host: Host, outgoing: Outgoing) -> Sent:
        sent.append(outgoing.delivery.id)
        return Sent(ok=True, provider_id=f"wamid.{outgoing.delivery.id}")

    return Channel(name="whatsapp", sender=send)


def test_a_message_in_doubt_waits_for_its_status_and_is_never_sent_again(
    engine: Engine,
) -> None:
    host, ids, now = setup(engine)
    assert died_after_sending(engine, now[0]) == ids
    sent: list[int] = []
    now[0] += delivery.LEASE + dt.timedelta(seconds=1)  # a plain lease would be over
    assert asyncio.run(delivery.deliver_due(host, channel(sent))) == 0
    for outbox_id in ids:  # Meta's status webhooks, echoing biz_opaque_callback_data
        with engine.storage.transaction() as tx:
            tx.apply_status("whatsapp", f"wamid.meta.{outbox_id}", "sent", now[0],
                            outbox_id=outbox_id)  # fmt: skip
    assert statuses(engine) == {i: ("sent", f"wamid.meta.{i}") for i in ids}
    now[0] += delivery.IN_DOUBT
    assert asyncio.run(delivery.deliver_due(host, channel(sent))) == 0
    assert sent == []


def test_a_message_in_doubt_without_a_status_is_sent_after_the_grace_period(
    engine: Engine,
) -> None:
    host, ids, now = setup(engine)
    died_after_sending(engine, now[0])
    sent: list[int] = []
    now[0] += delivery.IN_DOUBT - dt.timedelta(seconds=1)
    assert asyncio.run(delivery.deliver_due(host, channel(sent))) == 0
    now[0] += dt.timedelta(seconds=2)
    assert asyncio.run(delivery.deliver_due(host, channel(sent))) == len(ids)
    assert sent == ids and {s for s, _ in statuses(engine).values()} == {"sent"}


def test_a_status_naming_another_channels_row_or_a_sent_one_changes_nothing(
    engine: Engine,
) -> None:
    _host, ids, now = setup(engine)
    with engine.storage.transaction() as tx:
        assert not tx.apply_status("webchat", "wamid.x", "sent", now[0], outbox_id=ids[0])
        tx.record_attempt(ids[0], now[0], provider_id="wamid.real")
        tx.apply_status("whatsapp", "wamid.other", "read", now[0], outbox_id=ids[0])
    assert statuses(engine)[ids[0]] == ("sent", "wamid.real")


def test_the_callback_data_names_the_outbox_row() -> None:
    assert whatsapp.outbox_of("civic:42") == 42
    for other in (None, "", "civic:", "civic:x", "civic:-1", "civic:٤٢", "other:42", "civic:1e3"):
        assert whatsapp.outbox_of(other) is None
    status = {"id": "wamid.1", "status": "sent", "biz_opaque_callback_data": "civic:7"}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "1"}, "statuses": [status]}}]}],
    }  # fmt: skip
    (event,) = api.parse_delivery(payload)
    assert isinstance(event, api.StatusUpdate) and event.callback == "civic:7"
