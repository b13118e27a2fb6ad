"""The inbox: a channel's raw deliveries, stored before they are acknowledged.

A webhook calls :func:`receive` with the bytes it got: they are stored first (so nothing
acknowledged is ever lost), then processed by the channel. What the channel could not
understand makes the delivery a *dead letter*, listed by ``civic inbox dead-letters`` and
processed again by ``civic inbox retry ID`` (:func:`process_again`); it is never dropped.
A delivery whose processing failed outright stays ``received`` and is processed again
by the next worker round (:func:`process_pending`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence

from civic.channels import Channel, Host

log = logging.getLogger(__name__)

Process = Callable[[Host, bytes], Sequence[str]]

#: Processing tries before a delivery that keeps failing becomes a dead letter.
GIVE_UP_AFTER = 5


def store(host: Host, channel: str, body: bytes) -> int:
    """Keep a raw delivery; returns its inbox id."""
    with host.engine.storage.transaction() as tx:
        return tx.add_inbox(channel, body, host.engine.clock())


def handle(host: Host, inbox_id: int, body: bytes, process: Process) -> str:
    """Process one stored delivery: ``processed``, ``dead`` (with the reasons) or
    ``received`` when processing itself failed (tried again later)."""
    try:
        problems = list(process(host, body))
        status = "dead" if problems else "processed"
        with host.engine.storage.transaction() as tx:
            tx.mark_inbox(inbox_id, status, host.engine.clock(), "; ".join(problems) or None)
    except Exception as exc:
        log.exception("inbox %s: processing failed", inbox_id)
        try:
            with host.engine.storage.transaction() as tx:
                return tx.fail_inbox(
                    inbox_id, host.engine.clock(), f"{type(exc).__name__}: {exc!r}",
                    give_up_after=GIVE_UP_AFTER,
                )  # fmt: skip
        except Exception:
            log.exception("inbox %s: cannot record the failure", inbox_id)
            return "received"
    if problems:
        log.warning("inbox %s: dead letter: %s", inbox_id, "; ".join(problems))
    return status


def receive(host: Host, channel: str, body: bytes, process: Process) -> tuple[int, str]:
    """Store, then process, one raw delivery (blocking: run it off the event loop)."""
    inbox_id = store(host, channel, body)
    return inbox_id, handle(host, inbox_id, body, process)


def process_again(host: Host, channels: Mapping[str, Channel], inbox_id: int) -> str | None:
    """``civic inbox retry``: process a stored delivery again (messages already handled
    are recognised by their ids and not handled twice)."""
    with host.engine.storage.reading() as tx:
        row = tx.inbox_item(inbox_id)
    if row is None:
        return None
    channel = channels.get(row["channel"])
    if channel is None or channel.process is None:
        return f"no installed channel {row['channel']!r} processes it"
    return handle(host, inbox_id, bytes(row["body"]), channel.process)


def process_pending(host: Host, channels: Mapping[str, Channel], older_than: dt.timedelta) -> int:
    """Process deliveries left ``received`` by a failure (or a crash) earlier."""
    before = host.engine.clock() - older_than
    with host.engine.storage.reading() as tx:
        rows = tx.inbox_items("received", received_before=before, limit=50)
    done = 0
    for row in rows:  # each on its own: one bad delivery never blocks the others
        channel = channels.get(row["channel"])
        if channel is not None and channel.process is not None:
            try:
                done += handle(host, row["id"], bytes(row["body"]), channel.process) != "received"
            except Exception:
                log.exception("inbox %s: processing again failed", row["id"])
    return done
