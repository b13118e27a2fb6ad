"""Canned responses: ready answers a department's attendants use often.

Each belongs to one department; the console offers a department's own when an attendant
writes to a citizen. Saving and deleting record who did it (``updated_by``). Who may edit
them (an admin, the department's attendants) is the caller's rule, not this module's.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from civic.staff import TEXT_LIMIT, NotFound, StaffError, agent_name

if TYPE_CHECKING:
    from civic.engine import Engine

#: The longest title (the database column's limit).
TITLE_LIMIT = 120


@attrs.frozen
class Canned:
    """A canned response: ``department`` is the slug; ``updated_by`` who saved it last."""

    id: int
    department: str
    title: str
    text: str
    updated_by: str
    updated_at: dt.datetime


def _canned(row: dict[str, Any]) -> Canned:
    return Canned(**{f.name: row[f.name] for f in attrs.fields(Canned)})


def _department(engine: Engine, department: str) -> str:
    slug = (department or "").strip().lower()
    if engine.registry.get(slug) is None:
        known = ", ".join(engine.registry.slugs) or "none"
        raise StaffError(f"unknown department {department!r}; available: {known}")
    return slug


def list_canned(engine: Engine, department: str) -> list[Canned]:
    """A department's canned responses, by title."""
    slug = _department(engine, department)
    with engine.storage.reading() as tx:
        return [_canned(row) for row in tx.canned_responses(slug)]


def save_canned(
    engine: Engine,
    *,
    department: str,
    title: str,
    text: str,
    agent: str,
    id: int | None = None,
) -> int:
    """Add a canned response, or replace response ``id``; returns its id.

    Raises :class:`~civic.staff.StaffError` for an unknown department or an empty or too
    long title or text, and :class:`~civic.staff.NotFound` for an unknown ``id``.
    """
    agent = agent_name(agent)
    slug = _department(engine, department)
    clean_title = " ".join((title or "").split())
    body = (text or "").strip()
    if not clean_title:
        raise StaffError("the title is empty")
    if len(clean_title) > TITLE_LIMIT:
        raise StaffError(f"the title is longer than {TITLE_LIMIT} characters")
    if not body:
        raise StaffError("the text is empty")
    if len(body) > TEXT_LIMIT:
        raise StaffError(f"the text is longer than {TEXT_LIMIT} characters")
    now = engine.clock()
    with engine.storage.transaction() as tx:
        tx.ensure_agent(agent, now)
        saved = tx.save_canned_response(
            canned_id=id,
            department=slug,
            title=clean_title,
            text=body,
            updated_by=agent,
            now=now,
        )
        if saved is None:
            raise NotFound(f"no canned response {id}")
    return saved


def delete_canned(engine: Engine, id: int, agent: str) -> None:
    """Delete canned response ``id``, recording who did it in the audit table (the
    response is gone, so nothing else would); :class:`~civic.staff.NotFound` when
    there is none."""
    agent = agent_name(agent)
    now = engine.clock()
    with engine.storage.transaction() as tx:
        found = tx.canned_response(id)
        if found is None or not tx.delete_canned_response(id):
            raise NotFound(f"no canned response {id}")
        tx.ensure_agent(agent, now)
        tx.add_audit(
            actor=agent,
            action="delete_canned",
            target=f"canned:{id}",
            conversation_id=None,
            reason=f"{found['department']}: {found['title']}"[:500],
            now=now,
        )


__all__ = ["Canned", "delete_canned", "list_canned", "save_canned"]
