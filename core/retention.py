"""Retention: personal data is kept only as long as the city set (LGPD art. 16: data is
eliminated when its processing ends, unless a law requires keeping it; art. 6 III:
necessity).

The periods are the city's ``[retention]`` in ``civic.toml``, overridden per department
by ``[departments.<slug>.retention]`` (:class:`civic.config.RetentionConfig`). ``civic
privacy purge`` (and ``civic serve`` once a day) applies them to **closed**
conversations only:

- ``messages``: a conversation closed more than ``messages_days`` ago loses its message
  and outbound texts, the citizen's phone (its address), the name given in it and what
  the channel kept; the channel's raw deliveries older than the shortest period are
  deleted; a citizen last seen longer ago than the longest period (every department's
  must be set) and with nothing open becomes a tombstone without name or CPF;
- ``submissions``: a protocol unchanged for ``submissions_days`` loses its answers and
  keeps its number, department, form, status and dates (the record the city must keep,
  art. 16 I, anonymised);
- ``ratings``: a survey comment older than ``ratings_days`` is deleted; the score and the
  answers to the city's questions stay as statistics.

Rows are emptied, never deleted, so reports keep their counts and scores. Each step is
one transaction and skips what is already done: a purge run twice does nothing the
second time, and workers running it together do not collide.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from civic.config import RETENTION_KINDS

if TYPE_CHECKING:
    from civic.engine import Engine

#: How a purge line names data of no department.
NO_DEPARTMENT = "(none)"
#: How a purge line names what is not a department's (citizens, raw deliveries).
EVERY_DEPARTMENT = "(all)"
#: What replaces a purged text.
PLACEHOLDER = "[anonimizado]"


@attrs.frozen
class Purged:
    """One line of a purge's account: in ``department``, ``count`` items of ``kind``
    (``messages``: conversations; ``submissions``; ``ratings``; ``citizens``;
    ``deliveries``) older than ``days`` were anonymised (or would be, in a dry run)."""

    department: str
    kind: str
    days: int
    count: int


def purge(engine: Engine, *, dry_run: bool = False) -> list[Purged]:
    """Apply the city's retention periods now (:data:`engine.clock`); with ``dry_run``,
    only count. Returns one :class:`Purged` per department and kind with a period."""
    from civic import storage

    retention = engine.config.retention
    now = engine.clock()
    done: list[Purged] = []
    with engine.storage.reading() as tx:
        departments = storage.retention_departments(tx)
    for department in departments:
        periods = retention.periods(department)
        for kind in RETENTION_KINDS:
            days = periods.days(kind)
            if days is None:
                continue
            before = now - dt.timedelta(days=days)
            with engine.storage.transaction() as tx:
                if kind == "messages":
                    count = storage.purge_messages(
                        tx, department, before, placeholder=PLACEHOLDER, dry_run=dry_run
                    )
                elif kind == "submissions":
                    count = storage.purge_submissions(tx, department, before, dry_run=dry_run)
                else:
                    count = storage.purge_ratings(tx, department, before, dry_run=dry_run)
            done.append(Purged(department or NO_DEPARTMENT, kind, days, count))
    message_days = [retention.periods(d).messages for d in [*departments, None]]
    configured = [days for days in message_days if days is not None]
    if configured:
        shortest = min(configured)
        with engine.storage.transaction() as tx:
            count = storage.purge_deliveries(tx, now - dt.timedelta(days=shortest), dry_run=dry_run)
        done.append(Purged(EVERY_DEPARTMENT, "deliveries", shortest, count))
    if configured and len(configured) == len(message_days):
        longest = max(configured)
        with engine.storage.transaction() as tx:
            count = storage.purge_citizens(
                tx, now - dt.timedelta(days=longest), placeholder=PLACEHOLDER, dry_run=dry_run
            )
        done.append(Purged(EVERY_DEPARTMENT, "citizens", longest, count))
    if not dry_run and any(line.count for line in done):
        engine.storage.compact()
    return done
