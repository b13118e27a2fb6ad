"""The durations a conversation stores for reports: first response and resolution.

A report gives the median time to the first response and to the resolution over any
number of conversations. Computing each duration from two timestamps at report time
means sorting an expression over every row; instead, each conversation stores its
durations in seconds (``conversation.first_response_seconds`` and
``conversation.resolution_seconds``) in the same UPDATE that records the moment they
end, and the report reads them along an index.

A conversation handed to the team is measured from the hand-over to the attendant's
first message (first response) or to the attendant's close (resolution); one the bot
served, from its opening to the bot's first reply or to its closing. A duration not
reached yet is ``None``; a new hand-over (or a transfer) starts the team's clock again.

This module is pure Python (no database), so the engine and the staff actions use it
without importing the storage layer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

#: The ends a duration can be measured to, and the stored column holding each.
COLUMNS = {"first_response": "first_response_seconds", "closed": "resolution_seconds"}
#: The moment each duration ends, for a conversation the bot served...
BOT_ENDS = {"first_response": "first_response_at", "closed": "closed_at"}
#: ...and for one handed to the team (measured from ``handed_over_at``).
TEAM_ENDS = {"first_response": "agent_first_response_at", "closed": "resolved_at"}
#: The columns the durations are computed from: a change to any of them recomputes both.
INPUTS = frozenset({"opened_at", "handed_over_at", *BOT_ENDS.values(), *TEAM_ENDS.values()})


def seconds(start: dt.datetime, end: dt.datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (exact to the microsecond), ``None`` without an end."""
    return None if end is None else (end - start).total_seconds()


def durations(row: Mapping[Any, Any], changes: Mapping[str, Any]) -> dict[str, float | None]:
    """The stored durations of a conversation ``row`` that ``changes`` change:
    ``{column: seconds or None}``, only for the durations whose value differs from the
    one ``row`` stores (both when ``row`` stores none, as a new row); ``{}`` when
    ``changes`` touch none of :data:`INPUTS`.

    ``row`` is the conversation as read (it may lack columns that ``changes`` give);
    add the result to the same UPDATE (or INSERT) as ``changes``.
    """
    if INPUTS.isdisjoint(changes):
        return {}

    def value(name: str) -> Any:
        return changes[name] if name in changes else row.get(name)

    handed = value("handed_over_at")
    start = handed if handed is not None else value("opened_at")
    ends = TEAM_ENDS if handed is not None else BOT_ENDS
    found = {column: seconds(start, value(ends[end])) for end, column in COLUMNS.items()}
    return {
        column: found[column]
        for column in COLUMNS.values()
        if column not in row or row[column] != found[column]
    }
