"""The per-citizen rate limit: a flood of messages is stored, answered once, not processed.

A citizen (or a script using their address) who sends more than ``[limits]
messages_per_minute`` messages (default 30: :class:`civic.config.LimitsConfig`) within a minute
to one conversation gets, for the first message over the limit, one polite answer
(the catalogue text ``rate_limited``, which a city may override in ``[texts]``); that
message and the following ones of the flood are **stored** like any other (so nothing
a channel acknowledged is lost, and the attendants see them), but no turn is run for
them: no form advances, no protocol is opened, no reply is sent. When the citizen's
pace falls under the limit again, their messages are processed as usual.

The count is the database's (the citizen messages the conversation stored in the last
:data:`WINDOW`), so it holds across every worker and every channel; it lives in the
engine, not in each channel, because a channel is a thin adapter. ``0`` turns it off.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from civic.storage import Transaction

#: How far back messages are counted.
WINDOW = dt.timedelta(minutes=1)


@attrs.frozen
class Flood:
    """The message is over the limit; ``first``: it is the first one over it, the one
    that gets the answer."""

    first: bool
    count: int


def flood(tx: Transaction, per_minute: int, conversation_id: int, now: dt.datetime) -> Flood | None:
    """Whether the citizen message just stored in ``conversation_id`` at ``now`` is over
    ``per_minute`` (``None``: it is not, or the limit is off)."""
    if per_minute <= 0:
        return None
    count = tx.recent_inbound(conversation_id, now - WINDOW)
    if count <= per_minute:
        return None
    return Flood(first=count == per_minute + 1, count=count)


class Window:
    """Counts events per key in the current minute, in this process only (the web chat's
    per-IP limit: cheap, and a flood from one address is still slowed by each worker).

    At most ``keys`` keys are remembered; past that, the oldest minute's are forgotten.
    """

    def __init__(self, per_minute: int, *, keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.keys = keys
        self._minute = -1
        self._counts: dict[str, int] = {}

    def allow(self, key: str, now: float) -> bool:
        """Count one event of ``key`` at ``now`` (seconds, any monotonic origin); whether
        it is within the limit (always, when the limit is ``0``)."""
        if self.per_minute <= 0:
            return True
        minute = int(now // 60)
        if minute != self._minute or len(self._counts) >= self.keys:
            self._minute, self._counts = minute, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count <= self.per_minute


__all__ = ["WINDOW", "Flood", "Window", "flood"]
