"""The inbox: a channel's raw deliveries, stored before they are acknowledged.

A webhook calls :func:`receive` with the bytes it got: they are stored first (so nothing
acknowledged is ever lost), then processed by the channel. What the channel could not
understand makes the delivery a *dead letter*, listed by ``civic inbox dead-letters`` and
processed again by ``civic inbox retry ID`` (:func:`process_again`); it is never dropped.
A delivery whose processing failed outright stays ``received`` and is processed again
by the next worker round (:func:`process_pending`).

**Order.** Several workers (threads, processes, hosts) may receive deliveries of the same
citizen at once. A delivery that names its ``sender`` (the citizen's address, when all
its messages are theirs) is processed only after every earlier delivery of that sender,
in inbox order, and never beside another one of theirs:

- storing it tells whether an earlier one of the sender is still to process; if none
  is, this worker holds it and processes it now;
- otherwise it waits in the inbox, and this worker takes the sender's oldest one if no
  other worker holds it (:meth:`~civic.storage.Transaction.next_inbox`);
- a worker that finishes a delivery takes the sender's next one in the same transaction
  that marks it processed, so a delivery that waited is never left behind (storing,
  taking and finishing hold the sender's lock: :meth:`~civic.storage.Transaction.lock_sender`);
- a delivery whose processing failed is let go, and tried again before the sender's
  later ones (until it becomes a dead letter); a worker that died holding one lets it
  go when its :data:`LEASE` ends.

**At rest.** A delivery holds what the citizen wrote, CPFs included: its body is stored
encrypted with the instance's CPF key (:func:`seal`, the vault of
:mod:`civic.crypto`) and opened only to be processed (:func:`opened`). Bodies stored in
clear by an older civic are still read.

Different senders are processed in parallel. A delivery without a sender (statuses
alone, several citizens' messages batched together, nothing readable) is processed at
once by the worker that stored it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from civic.channels import Channel, Host

if TYPE_CHECKING:
    from civic.storage import Row

log = logging.getLogger(__name__)

Process = Callable[[Host, bytes], Sequence[str]]

#: Processing tries before a delivery that keeps failing becomes a dead letter.
GIVE_UP_AFTER = 5
#: How long a worker holds a delivery it processes: one that died holding it lets it go
#: when this ends, and its sender's later deliveries wait until then. Far longer than
#: processing takes (milliseconds), or another worker would take the delivery meanwhile.
LEASE = dt.timedelta(seconds=float(os.environ.get("CIVIC_INBOX_LEASE_SECONDS") or 120))
#: ``civic serve`` looks this often for deliveries left unprocessed (a failure, a
#: crash), taking those received at least this long ago. ``CIVIC_INBOX_LEASE_SECONDS``
#: and ``CIVIC_INBOX_RETRY_SECONDS`` shorten both for the fault tests.
RETRY_EVERY = dt.timedelta(seconds=float(os.environ.get("CIVIC_INBOX_RETRY_SECONDS") or 30))
#: The longest sender address kept (the engine refuses longer ones).
SENDER_LIMIT = 128


def usable_sender(sender: object) -> str | None:
    """``sender`` when it can key a queue: a non-blank string of at most 128 characters
    without control or surrogate characters (what the engine accepts as an address);
    else ``None`` (the delivery is then processed unordered, and refused by the engine)."""
    if not isinstance(sender, str) or not sender.strip() or len(sender) > SENDER_LIMIT:
        return None
    from civic.engine import CONTROL_OR_SURROGATE  # the engine's own rule

    if CONTROL_OR_SURROGATE.search(sender):
        return None
    return sender


#: What a sealed body starts with (a delivery in clear is JSON: it starts with ``{``).
SEALED = b"civic-sealed:"


def seal(host: Host, body: bytes) -> bytes:
    """``body`` encrypted for storage (any bytes: each is carried as one character)."""
    return SEALED + host.engine.vault.encrypt(body.decode("latin-1")).encode("ascii")


def opened(host: Host, stored: bytes) -> bytes:
    """The delivery :func:`seal` encrypted; a body stored in clear, as it is."""
    if not stored.startswith(SEALED):
        return stored
    return host.engine.vault.decrypt(stored[len(SEALED) :].decode("ascii")).encode("latin-1")


def store(
    host: Host, channel: str, body: bytes, sender: str | None = None, *, wait: float | None = None
) -> tuple[int, bool]:
    """Keep a raw delivery; returns its inbox id and whether this worker holds it (it
    does unless an earlier delivery of ``sender`` is still to process). ``wait`` bounds
    how long a locked SQLite database is waited for
    (:class:`~civic.storage.Unavailable` after)."""
    sealed = seal(host, body)  # before the transaction: it holds the write lock
    with host.engine.storage.transaction(wait=wait) as tx:
        return tx.add_inbox(
            channel, sealed, host.engine.clock(), sender=usable_sender(sender), lease=LEASE
        )


def handle(host: Host, inbox_id: int, body: bytes, process: Process) -> str:
    """Process one stored delivery, whatever its sender's other deliveries:
    ``processed``, ``dead`` (with the reasons) or ``received`` when processing itself
    failed (tried again later)."""
    return _process(host, {"id": inbox_id, "body": body}, process, None)[0]


def receive(
    host: Host, channel: str, body: bytes, process: Process, sender: str | None = None
) -> tuple[int, str]:
    """Store, then process, one raw delivery (blocking: run it off the event loop).

    With ``sender``, the sender's earlier deliveries are processed first (see the module's
    documentation). Returns the inbox id and the delivery's status; ``received`` when
    another worker holds an earlier delivery of the sender (it processes this one next)
    or processing failed (tried again later).
    """
    sender = usable_sender(sender)
    inbox_id, held = store(host, channel, body, sender)
    return inbox_id, process_stored(host, channel, inbox_id, held, body, process, sender)


def process_stored(
    host: Host,
    channel: str,
    inbox_id: int,
    held: bool,
    body: bytes,
    process: Process,
    sender: str | None = None,
) -> str:
    """Process a delivery :func:`store` kept (``held`` is what it returned), with the
    sender's deliveries that wait after it; returns its status (see :func:`receive`).
    A webhook acknowledges the delivery once stored and calls this afterwards."""
    sender = usable_sender(sender)
    try:
        if held:
            item: Row | None = {
                "id": inbox_id, "channel": channel, "sender": sender, "body": body,
            }  # fmt: skip
        else:
            assert sender is not None  # a delivery without a sender is always held
            item = _take_next(host, channel, sender)
        done = _work(host, item, process)
    except Exception:  # stored, hence acknowledged: the inbox loop tries again
        log.exception("inbox %s: processing the sender's deliveries failed", inbox_id)
        return "received"
    return done.get(inbox_id, "received")


def drain(host: Host, channel: str, sender: str, process: Process) -> dict[int, str]:
    """Process the deliveries of ``sender`` still to process, oldest first, unless
    another worker holds the oldest; returns the status of each one processed."""
    return _work(host, _take_next(host, channel, sender), process)


def process_again(host: Host, channels: Mapping[str, Channel], inbox_id: int) -> str | None:
    """``civic inbox retry``: process a stored delivery again (messages already handled
    are recognised by their ids and not handled twice). One still waiting in its
    sender's line is processed with the sender's earlier ones, in order."""
    with host.engine.storage.reading() as tx:
        row = tx.inbox_item(inbox_id)
    if row is None:
        return None
    channel = channels.get(row["channel"])
    if channel is None or channel.process is None:
        return f"no installed channel {row['channel']!r} processes it"
    if row["status"] == "received" and row["sender"] is not None:
        return drain(host, row["channel"], row["sender"], channel.process).get(inbox_id, "received")
    return handle(host, inbox_id, opened(host, bytes(row["body"])), channel.process)


def process_pending(host: Host, channels: Mapping[str, Channel], older_than: dt.timedelta) -> int:
    """Process deliveries left ``received`` by a failure (or a crash) earlier: each
    sender's in order, the others one by one, none another worker holds. Returns how
    many were processed (or became dead letters)."""
    now = host.engine.clock()
    with host.engine.storage.reading() as tx:
        rows = tx.inbox_items("received", received_before=now - older_than, limit=50)
    done = 0
    senders = dict.fromkeys((row["channel"], row["sender"]) for row in rows if row["sender"])
    for row in rows:  # each on its own: one bad delivery never blocks the others
        channel = channels.get(row["channel"])
        if row["sender"] is not None or channel is None or channel.process is None:
            continue
        try:
            with host.engine.storage.transaction() as tx:
                held = tx.claim_inbox(row["id"], host.engine.clock(), LEASE)
            if held:
                body = opened(host, bytes(row["body"]))
                done += handle(host, row["id"], body, channel.process) != "received"
        except Exception:
            log.exception("inbox %s: processing again failed", row["id"])
    for name, sender in senders:
        channel = channels.get(name)
        if channel is None or channel.process is None:
            continue
        try:
            statuses = drain(host, name, sender, channel.process)
        except Exception:
            log.exception("inbox: processing a sender's deliveries again failed")
            continue
        done += sum(status != "received" for status in statuses.values())
    return done


def _reasons(problems: Sequence[str]) -> str | None:
    """Why a delivery failed, as stored for staff: CPFs and phone numbers a message id or
    an error quoted are masked (the reasons are shown and kept in clear)."""
    from civic.redaction import redact_line

    return redact_line("; ".join(problems)) or None


def _take_next(host: Host, channel: str, sender: str) -> Row | None:
    with host.engine.storage.transaction() as tx:
        return tx.next_inbox(channel, sender, host.engine.clock(), LEASE)


def _work(host: Host, item: Row | None, process: Process) -> dict[int, str]:
    """Process ``item`` (held by this worker), then each next delivery of its sender
    this worker can take, until none is left, another worker holds it, or one fails."""
    done: dict[int, str] = {}
    while item is not None:
        queue = (item["channel"], item["sender"]) if item.get("sender") else None
        done[item["id"]], item = _process(host, item, process, queue)
    return done


def _process(
    host: Host, item: Row, process: Process, queue: tuple[str, str] | None
) -> tuple[str, Row | None]:
    """Process one held delivery; with its sender's ``queue``, take the sender's next
    one in the transaction that records this one. Returns the status and the next."""
    inbox_id = item["id"]
    following = None
    try:
        problems = list(process(host, opened(host, bytes(item["body"]))))
        status = "dead" if problems else "processed"
        with host.engine.storage.transaction() as tx:
            now = host.engine.clock()
            if queue is not None:
                tx.lock_sender(*queue)  # first: a delivery stored meanwhile is seen next
            tx.mark_inbox(inbox_id, status, now, _reasons(problems))
            if queue is not None:
                following = tx.next_inbox(*queue, now, LEASE)
    except Exception as exc:
        log.exception("inbox %s: processing failed", inbox_id)
        following = None  # taken in a transaction that did not commit
        try:
            with host.engine.storage.transaction() as tx:
                now = host.engine.clock()
                if queue is not None:
                    tx.lock_sender(*queue)
                failed = tx.fail_inbox(
                    inbox_id, now, _reasons([f"{type(exc).__name__}: {exc!r}"]) or "",
                    give_up_after=GIVE_UP_AFTER,
                )  # fmt: skip
                if failed == "dead" and queue is not None:  # out of the line: go on
                    following = tx.next_inbox(*queue, now, LEASE)
        except Exception:
            log.exception("inbox %s: cannot record the failure", inbox_id)
            return "received", None
        return failed, following
    if problems:
        log.warning("inbox %s: dead letter: %s", inbox_id, "; ".join(problems))
    return status, following
