"""Delivering the outbox: each channel's sender, with retries that survive a restart.

A message is *claimed* for a lease before it is sent, so several workers never send it
at once, and a worker that dies mid-send leaves it to be taken again when the lease ends.
A failed send is tried again after a growing delay; after the last try it is marked
``failed`` with the reason, for staff to see. Everything lives in the outbox table.

Any number of workers may deliver at once (:meth:`~civic.storage.Transaction.claim_outbox`
takes rows no other worker holds). Each citizen gets their messages in order: a message
waits while an earlier one to the same address is held or waits for its retry, and a
worker sends what it claimed oldest first, holding back an address's later messages
once one of them was not sent. A claimed message is sent only while enough of its lease
is left (:data:`SEND_WITHIN`); the rest are given back, so a lease never ends during a
send and another worker never sends the same message again.

**Exactly once, across a crash.** A worker killed after the provider accepted a message
and before recording it cannot know, when it starts again, whether the request went out.
Sending again would be at-least-once (the citizen reads the reply twice); not sending
would lose it when the request never left. civic uses what the provider offers:

- the claim is the *sending mark*: it is committed before any request, and holds the
  message for :data:`IN_DOUBT` (the grace period) rather than a short lease. Messages
  the worker did not get to send are given back at once (their mark removed), a send
  that failed is recorded with its retry time, a send that succeeded is recorded sent:
  only a worker that died leaves a mark standing;
- every send names its outbox row to the provider (WhatsApp: ``biz_opaque_callback_data``
  = ``civic:<outbox id>``, which Meta echoes in the message's status webhooks), so a
  status that arrives for a message civic never recorded sent records it sent
  (:meth:`~civic.storage.Transaction.apply_status`), and it is never sent again;
- a marked message for which no status arrived within :data:`IN_DOUBT` is sent again.

The trade-off, documented in ``docs/faults.md``: after a crash, a message the provider
did accept is sent exactly once as long as its status webhook reaches civic within the
grace period (Meta retries webhooks for days, so this fails only when civic is down
longer than the grace period); a message the dead worker had claimed and not sent (or
whose request never reached the provider) waits for the grace period before it is sent.
Without a crash nothing changes: each message is sent once, at once. A channel whose
provider sends no statuses gets at-least-once after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence

from civic import failpoints
from civic.channels import Channel, Host, Outgoing, Sent

log = logging.getLogger(__name__)

#: Delays before the 2nd, 3rd... attempt; after the last one the message is failed.
BACKOFF = (
    dt.timedelta(seconds=5),
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(hours=1),
)
#: The shortest time a claimed message is reserved for its sender.
LEASE = dt.timedelta(seconds=60)
#: The grace period: a claimed message is held this long (the claim is its sending
#: mark), so one whose worker died waits this long for a status saying it was sent
#: before it is sent again. ``CIVIC_SEND_GRACE_SECONDS`` sets it; values under a minute
#: are for tests (a send must end within it).
IN_DOUBT = dt.timedelta(seconds=float(os.environ.get("CIVIC_SEND_GRACE_SECONDS") or 600))
#: A claimed message is sent only within this time of its claim: the rest of the claim
#: covers the send itself (the WhatsApp channel gives a request 15 seconds).
SEND_WITHIN = min(LEASE, IN_DOUBT) / 2
#: Sends in flight at once (to different citizens) per worker and channel.
CONCURRENT_SENDS = 16


def retry_at(attempts: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after ``attempts`` failed tries (``None``: give up)."""
    return now + BACKOFF[attempts] if attempts < len(BACKOFF) else None


async def deliver_due(host: Host, channel: Channel, *, limit: int = 100) -> int:
    """Send the due messages of one channel once; returns how many were sent. Different
    addresses are sent to at once (at most :data:`CONCURRENT_SENDS` requests), each
    address's messages one after the other, oldest first."""
    if channel.sender is None:
        return 0
    storage = host.engine.storage
    now = host.engine.clock()

    def claim() -> list[Outgoing]:
        with storage.transaction() as tx:
            claimed = tx.claim_outbox(channel.name, now, IN_DOUBT, limit)
        return [
            Outgoing(delivery, address, _data(channel_data))
            for delivery, address, channel_data in claimed
        ]

    chains: dict[str, list[Outgoing]] = {}  # each address's messages, oldest first
    for outgoing in await host.call(claim):
        chains.setdefault(outgoing.address, []).append(outgoing)
    gate = asyncio.Semaphore(CONCURRENT_SENDS)

    async def send_chain(chain: list[Outgoing]) -> tuple[int, list[int]]:
        """Send one address's messages in order; stop at the first not sent."""
        sent = 0
        for position, outgoing in enumerate(chain):
            assert channel.sender is not None
            async with gate:  # the lease is checked once a send may start, not before
                if host.engine.clock() - now >= SEND_WITHIN:
                    return sent, [o.delivery.id for o in chain[position:]]
                try:
                    result = await channel.sender(host, outgoing)
                except Exception as exc:  # a sender bug must not stop the others
                    log.exception(
                        "channel %s: sending outbox %s raised",
                        channel.name,
                        outgoing.delivery.id,
                    )
                    result = Sent(ok=False, error=f"{type(exc).__name__}: {exc}")
            if result.ok:
                failpoints.hit("after_send")
            await host.call(_record, host, outgoing.delivery.id, result)
            sent += result.ok
            if not result.ok:  # the address's later messages wait for this one
                return sent, [o.delivery.id for o in chain[position + 1 :]]
        return sent, []

    # Different citizens at once, each one's messages in order.
    done = await asyncio.gather(*(send_chain(chain) for chain in chains.values()))
    unsent = [outbox_id for _, ids in done for outbox_id in ids]
    if unsent:
        await host.call(_release, host, unsent, now + IN_DOUBT)
    return sum(sent for sent, _ in done)


def _release(host: Host, ids: list[int], claimed_until: dt.datetime) -> None:
    with host.engine.storage.transaction() as tx:
        tx.release_outbox(ids, claimed_until)


def _record(host: Host, outbox_id: int, result: Sent) -> None:
    now = host.engine.clock()
    with host.engine.storage.transaction() as tx:
        if result.ok:
            tx.record_attempt(outbox_id, now, provider_id=result.provider_id or "")
            return
        attempts = tx.outbox_attempts(outbox_id) + 1
        again = retry_at(attempts - 1, now) if result.retry else None
        tx.record_attempt(outbox_id, now, error=result.error, retry_at=again)
    if again is None:
        log.warning("outbox %s failed after %d attempt(s): %s", outbox_id, attempts, result.error)


def _data(raw: str | None) -> Mapping[str, object]:
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


async def delivery_loop(
    host: Host, channels: Sequence[Channel], stop: asyncio.Event, interval: float = 1.0
) -> None:
    """Deliver every channel's due messages until ``stop`` is set."""
    while not stop.is_set():
        busy = False
        for channel in channels:
            try:
                busy |= await deliver_due(host, channel) > 0
            except Exception:
                log.exception("channel %s: delivery round failed", channel.name)
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
